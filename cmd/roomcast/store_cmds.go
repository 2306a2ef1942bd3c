package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/roomcast/roomcast/storage"
)

// storeFile is the bbolt file in the data directory.
func storeFile(dataDir string) string { return filepath.Join(dataDir, "roomcast.db") }

// damageLine is the one line printed when the store is damaged (start, check).
func damageLine(ce *storage.CorruptError) string {
	reason := strings.Join(strings.Fields(ce.Reason), " ")
	return fmt.Sprintf("roomcast: %s: damaged store: %s; restore a backup (roomcast backup) or move it away",
		ce.Path, reason)
}

// checkCmd implements `roomcast check [--data DIR | --file PATH]`: it verifies a
// store offline. Exit 0: sound; 1: damaged; 2: not checked (usage, missing file,
// the server holds the lock).
func checkCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("roomcast check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", firstNonEmpty(getenv("ROOMCAST_DATA"), "./data"), "data directory")
	file := fs.String("file", "", "check this bbolt file (a backup) instead of <data>/roomcast.db")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path := firstNonEmpty(*file, storeFile(*dataDir))
	rep, err := storage.Check(path, time.Second)
	var ce *storage.CorruptError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintln(stderr, damageLine(ce))
		return 1
	case errors.Is(err, storage.ErrLocked):
		fmt.Fprintf(stderr, "roomcast check: %s is in use by a running server; check a copy instead: "+
			"roomcast backup --out FILE, then roomcast check --file FILE\n", path)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "roomcast check: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: ok (%d bytes, schema version %d, %d rooms)\n", path, rep.Bytes, rep.SchemaVersion, rep.Rooms)
	return 0
}

// backupCmd implements `roomcast backup --out FILE [--data DIR]`: a consistent copy
// of the store. While the server runs it holds the file lock, so the copy is asked
// of it over its operator socket <data>/roomcast.sock; with no server the file is
// read directly. The copy is then checked like `roomcast check`.
func backupCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("roomcast backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", firstNonEmpty(getenv("ROOMCAST_DATA"), "./data"), "data directory")
	out := fs.String("out", "", "file to write the copy to (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "roomcast backup: --out is required")
		return 2
	}
	if abs(*out) == abs(storeFile(*dataDir)) {
		fmt.Fprintln(stderr, "roomcast backup: --out is the store itself")
		return 2
	}
	via, err := backupOnline(*dataDir, *out)
	if errors.Is(err, errNoServer) {
		via, err = "the file (no server running)", backupOffline(*dataDir, *out)
	}
	var ce *storage.CorruptError
	if errors.As(err, &ce) {
		fmt.Fprintln(stderr, damageLine(ce))
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "roomcast backup: %v\n", err)
		return 1
	}
	rep, err := storage.Check(*out, time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "roomcast backup: the copy %s does not pass the check: %v\n", *out, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: copied from %s (%d bytes, schema version %d, %d rooms)\n",
		*out, via, rep.Bytes, rep.SchemaVersion, rep.Rooms)
	return 0
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// errNoServer: nothing listens on the operator socket.
var errNoServer = errors.New("no server answers on the operator socket")

// backupOnline asks the running server for the copy over its operator socket.
func backupOnline(dataDir, out string) (string, error) {
	sock := socketPath(dataDir)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	defer client.CloseIdleConnections()
	res, err := client.Get("http://roomcast" + opsBackupPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return "", errNoServer
		}
		return "", fmt.Errorf("ask the server over %s: %w", sock, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return "", fmt.Errorf("the server answered %s: %s", res.Status, strings.TrimSpace(string(msg)))
	}
	n, err := storage.WriteFileAtomic(out, res.Body)
	if err != nil {
		return "", err
	}
	if res.ContentLength >= 0 && n != res.ContentLength {
		_ = os.Remove(out)
		return "", fmt.Errorf("the server sent %d of %d bytes", n, res.ContentLength)
	}
	return "the running server (" + sock + ")", nil
}

// backupOffline copies the file of a store no server has open.
func backupOffline(dataDir, out string) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := storage.BackupFile(storeFile(dataDir), pw, nil, time.Second)
		pw.CloseWithError(err)
		done <- err
	}()
	_, werr := storage.WriteFileAtomic(out, pr)
	pr.CloseWithError(werr) // unblocks the writer if the copy failed first
	if err := <-done; err != nil {
		_ = os.Remove(out)
		return err
	}
	return werr
}
