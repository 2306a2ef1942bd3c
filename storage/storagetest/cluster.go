package storagetest

import (
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/roomcast/roomcast/internal/etcdtest"
)

// quietLogger keeps the etcd client's own logging out of test output.
func quietLogger() *zap.Logger { return zap.NewNop() }

// startCluster starts three etcd members on loopback for the run (their logs go
// to a file, printed when the start fails).
func startCluster() ([]string, func(), error) {
	dir, err := os.MkdirTemp("", "roomcast-etcd-")
	if err != nil {
		return nil, nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	c, err := etcdtest.StartCluster(dir, 3, logf)
	if err != nil {
		logf.Close()
		log, _ := os.ReadFile(logf.Name())
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start etcd: %w\n%s", err, log)
	}
	return c.Endpoints(), func() {
		c.Close()
		logf.Close()
		os.RemoveAll(dir)
	}, nil
}
