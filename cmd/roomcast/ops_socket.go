package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The operator socket <data>/roomcast.sock serves operations that need the open
// store while the server runs (it holds bbolt's file lock): today the backup. It
// is a unix socket of mode 0600 in the data directory (0700): whoever may use it
// may read roomcast.db itself, so it needs no token of its own.

// opsBackupPath is the backup endpoint of the operator socket.
const opsBackupPath = "/backup"

// socketPath is the operator socket of a data directory.
func socketPath(dataDir string) string { return filepath.Join(dataDir, "roomcast.sock") }

// startOps listens on the operator socket. A socket file left by a crashed server
// is removed first (the store's lock, held now, proves no server uses this data
// directory).
func (s *server) startOps() error {
	path := socketPath(s.Config.DataDir)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale operator socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen on operator socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return fmt.Errorf("operator socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+opsBackupPath, s.onBackup)
	s.ops = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.serve(s.ops, ln)
	return nil
}

// onBackup streams a consistent copy of the store (one read transaction).
func (s *server) onBackup(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	n, err := s.store.Backup(w, func(size int64) {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	})
	if err != nil {
		// Headers are out: the client sees a short body against Content-Length.
		s.Log.Error("backup failed", "bytes", n, "err", err)
		return
	}
	s.Log.Info("backup written", "bytes", n)
}
