package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/internal/etcdtest"
)

// shared is the 3-member etcd cluster of the tests that do not kill members;
// each test uses its own key prefix on it.
var shared *etcdtest.Cluster

// quiet drops the coordinators' logs.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestMain starts the shared etcd cluster (a missing etcd binary fails the
// package) and fails the package if a test leaves goroutines behind.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cluster-etcd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	shared, err = etcdtest.StartCluster(dir, 3, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, shared.LogTails())
	}
	shared.Close()
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
		return 1
	}
	return code
}
