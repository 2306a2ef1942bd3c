package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/internal/testparallel"
)

// parallelWallClock is the default -parallel of this package: its parallel tests
// broadcast in real time and mostly wait on the media clock, not on the CPU, so
// GOMAXPROCS (the testing default) would serialise them for nothing. An explicit
// -parallel wins.
const parallelWallClock = 8

// TestMain runs the whole-server tests and then fails the package if any of them
// left a goroutine behind (servers, publishers, archivers, webhook deliveries).
func TestMain(m *testing.M) {
	testparallel.Default(parallelWallClock)
	logrus.SetOutput(io.Discard) // go-rtmp's client logs chunk size changes through logrus' global logger
	code := m.Run()
	binOnce.dir.cleanup()
	// the tests' http.Get/DefaultClient keep idle keep-alive connections
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		// A publisher stopped while its RTMP connect was in flight closes the
		// connection and leaves go-rtmp's Stream.Connect waiting for an answer
		// forever: it has no timeout or cancellation (its own TODO), so the load
		// tool abandons that goroutine by design (load.dialAttempt). Anything
		// else left behind fails the package.
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/yutopp/go-rtmp.(*Stream).Connect")); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// binOnce is the real binary, built once for the tests that run it as a process.
var binOnce struct {
	sync.Once
	dir  tempDir
	path string
	err  error
	out  []byte
}

type tempDir string

func (d tempDir) cleanup() {
	if d != "" {
		os.RemoveAll(string(d))
	}
}

// buildRoomcast builds the real binary (once per test run) and returns its path.
func buildRoomcast(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "roomcast-bin-")
		if err != nil {
			binOnce.err = err
			return
		}
		binOnce.dir = tempDir(dir)
		binOnce.path = filepath.Join(dir, "roomcast")
		binOnce.out, binOnce.err = exec.Command("go", "build", "-o", binOnce.path, ".").CombinedOutput()
	})
	if binOnce.err != nil {
		t.Fatalf("go build: %v\n%s", binOnce.err, binOnce.out)
	}
	return binOnce.path
}
