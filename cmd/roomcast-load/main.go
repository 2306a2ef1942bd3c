// Command roomcast-load puts an RTMP → HLS server under load and measures it: N RTMP
// publishers replaying an FLV file, M HLS viewers per stream (hls.js-like low-latency
// or plain), an optional setup through Roomcast's App API, and CPU/RSS of the server
// from /proc. See --help.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load"
	"github.com/sirupsen/logrus"
)

func main() {
	logrus.SetOutput(io.Discard) // go-rtmp logs through logrus' global logger
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, stop)
	stop()
	os.Exit(code)
}

// run parses args, runs the load and prints the summary. stopSignals is called once
// the first signal arrived, so a second Ctrl-C kills the process. Exit codes: 0 done,
// 1 run failed to start, 2 bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, stopSignals func()) int {
	cfg, logLevel, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "roomcast-load: %v\nrun roomcast-load --help for the flags\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))
	go func() {
		<-ctx.Done()
		if stopSignals != nil {
			stopSignals()
		}
	}()
	r := &load.Runner{Config: cfg, Log: log, Progress: stderr}
	rep, err := r.Run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "roomcast-load: %v\n", err)
		return 1
	}
	load.WriteTable(stdout, rep)
	if cfg.JSONPath != "" {
		if err := writeJSON(cfg.JSONPath, rep); err != nil {
			fmt.Fprintf(stderr, "roomcast-load: %v\n", err)
			return 1
		}
	}
	return 0
}

func writeJSON(path string, rep *load.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}
