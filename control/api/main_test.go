package api

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/storage/storagetest"
)

// TestMain fails the run when a test leaves goroutines behind (servers, timers).
// With ROOMCAST_TEST_STORE=etcd (the engine comparison of BENCHMARKS.md) it runs
// on an etcd cluster instead, whose client keeps goroutines of its own.
func TestMain(m *testing.M) {
	if os.Getenv("ROOMCAST_TEST_STORE") == "etcd" {
		os.Exit(storagetest.Main(m))
	}
	goleak.VerifyTestMain(m)
}
