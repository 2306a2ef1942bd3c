//go:build linux

package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/yutopp/go-rtmp/handshake"
)

// emfileChildEnv makes TestAcceptEMFILEChild run (in the subprocess only).
const emfileChildEnv = "ROOMCAST_TEST_EMFILE_CHILD"

// TestAcceptBackoffUnderEMFILE runs TestAcceptEMFILEChild in a subprocess (it lowers
// RLIMIT_NOFILE, which would disturb the other tests) and checks what it reports:
// while every accept fails with EMFILE the process burns little CPU (go-rtmp's
// accept loop retries at once; trackedListener backs off), and once descriptors
// return the pending connection and a new publisher are served.
func TestAcceptBackoffUnderEMFILE(t *testing.T) {
	if testing.Short() {
		t.Skip("measures CPU over a window")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptEMFILEChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var cpu float64
	var failures int
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "EMFILE-RESULT "); ok {
			if _, err := fmt.Sscanf(v, "cpu_per_s=%g failures=%d", &cpu, &failures); err != nil {
				t.Fatalf("result %q: %v", v, err)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("child reported no result:\n%s", out)
	}
	t.Logf("while accept failed with EMFILE: %.3f s CPU per s; %d failure log lines", cpu, failures)
	if cpu > 0.2 {
		t.Errorf("accept loop used %.3f s CPU per s under EMFILE, want < 0.2", cpu)
	}
	if failures == 0 {
		t.Error("the accept failure was not logged")
	}
}

// TestAcceptEMFILEChild is the subprocess of TestAcceptBackoffUnderEMFILE.
func TestAcceptEMFILEChild(t *testing.T) {
	if os.Getenv(emfileChildEnv) == "" {
		t.Skip("subprocess of TestAcceptBackoffUnderEMFILE")
	}
	var failed atomic.Int64
	h := newHarness(t, func(s *Server) {
		s.Log = slog.New(countHandler{Handler: s.Log.Handler(), msg: "accept failed, retrying", n: &failed})
	})

	// Leave exactly one descriptor free, dial (taking it): the server's accept then
	// fails with EMFILE and the connection waits in the backlog.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(len(entries) + 32)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) }()
	var filler []*os.File
	defer func() {
		for _, f := range filler {
			f.Close()
		}
	}()
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		filler = append(filler, f)
	}
	filler[len(filler)-1].Close()
	filler = filler[:len(filler)-1]
	pending, err := net.Dial("tcp", h.addr())
	if err != nil {
		t.Fatalf("dial with the last descriptor: %v", err)
	}
	defer pending.Close()

	// The server's accept fails at once: measure from here.
	cpu0, _ := processCPUTime()
	wall0 := time.Now()
	window := time.NewTimer(2 * time.Second) // the measurement window, not a synchronisation
	<-window.C
	cpu1, _ := processCPUTime()
	perSec := (cpu1 - cpu0).Seconds() / time.Since(wall0).Seconds()

	// Descriptors return: the pending connection is accepted and served.
	for _, f := range filler {
		f.Close()
	}
	filler = nil
	_ = pending.SetDeadline(time.Now().Add(10 * time.Second))
	if err := handshake.HandshakeWithServer(pending, pending, &handshake.Config{}); err != nil {
		t.Fatalf("handshake of the connection pending during EMFILE: %v", err)
	}
	c := dialRTMP(t, h.addr())
	if !c.connect("live") {
		t.Fatal("connect refused after recovery")
	}
	if st := c.publish("key1"); st != "NetStream.Publish.Start" {
		t.Fatalf("publish after recovery: %s", st)
	}
	c.close()
	fmt.Printf("EMFILE-RESULT cpu_per_s=%.4f failures=%d\n", perSec, failed.Load())
}

// countHandler counts the records with message msg.
type countHandler struct {
	slog.Handler
	msg string
	n   *atomic.Int64
}

func (h countHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return h.Handler.Handle(ctx, r)
}

func (h countHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countHandler{Handler: h.Handler.WithAttrs(as), msg: h.msg, n: h.n}
}

func (h countHandler) WithGroup(name string) slog.Handler {
	return countHandler{Handler: h.Handler.WithGroup(name), msg: h.msg, n: h.n}
}

// processCPUTime is the user + system CPU time of the process so far.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
