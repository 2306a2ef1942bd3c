package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/storage"
)

// appCreate implements `roomcast app create --name NAME`: it opens the store (the
// server must not be running: bbolt allows one process) and prints the credentials.
func appCreate(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("roomcast app create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", firstNonEmpty(getenv("ROOMCAST_DATA"), "./data"), "data directory")
	name := fs.String("name", "", "name of the new app (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *name == "" {
		fmt.Fprintln(stderr, "roomcast app create: --name is required")
		return 2
	}
	store, err := storage.Open(filepath.Join(*dataDir, "roomcast.db"), storage.Options{})
	var ce *storage.CorruptError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintln(stderr, damageLine(ce))
		return 1
	case errors.Is(err, storage.ErrLocked):
		fmt.Fprintf(stderr, "roomcast app create: %v (is the server running?)\n", err)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "roomcast app create: %v\n", err)
		return 1
	}
	defer store.Close()
	c := &control.Control{Store: store, Log: slog.New(slog.NewTextHandler(stderr, nil))}
	if err := c.Initialize(); err != nil {
		fmt.Fprintf(stderr, "roomcast app create: %v\n", err)
		return 1
	}
	defer c.Close()
	creds, err := c.CreateApp(context.Background(), *name)
	if err != nil {
		fmt.Fprintf(stderr, "roomcast app create: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(creds); err != nil {
		return 1
	}
	return 0
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
