// Command roomcast is the Roomcast server: RTMP ingest, CMAF packaging (LL-HLS, DASH),
// RTMP relay, VOD and the REST control plane in one process.
//
//	roomcast [flags]                 run the server (flags: roomcast -h)
//	roomcast app create --name NAME  add an app to the store offline, print its credentials
//	roomcast check [--file PATH]     verify the store offline (exit 1: damaged)
//	roomcast backup --out FILE       write a consistent copy of the store (server running or not)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/roomcast/roomcast/storage"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// realMain is main without the process exit, so tests can call it.
func realMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) >= 2 && args[0] == "app" && args[1] == "create" {
		return appCreate(args[2:], getenv, stdout, stderr)
	}
	if len(args) >= 1 && args[0] == "check" {
		return checkCmd(args[1:], getenv, stdout, stderr)
	}
	if len(args) >= 1 && args[0] == "backup" {
		return backupCmd(args[1:], getenv, stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "roomcast: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := &server{Config: cfg, Log: log}
	if err := srv.Initialize(); err != nil {
		var ce *storage.CorruptError
		if errors.As(err, &ce) {
			fmt.Fprintln(stderr, damageLine(ce)) // one line, whatever the log format
			return 1
		}
		log.Error("start failed", "err", err)
		return 1
	}
	log.Info("roomcast started", "http", srv.HTTPAddr(), "rtmp", srv.RTMPAddr(), "data", cfg.DataDir)
	select {
	case <-ctx.Done():
		log.Info("shutting down", "signal", "received")
	case err := <-srv.Err():
		log.Error("listener failed", "err", err)
		srv.Close()
		return 1
	}
	srv.Close()
	log.Info("roomcast stopped")
	return 0
}
