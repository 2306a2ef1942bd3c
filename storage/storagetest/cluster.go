package storagetest

import (
	"errors"

	"go.uber.org/zap"
)

// quietLogger keeps the etcd client's own logging out of test output.
func quietLogger() *zap.Logger { return zap.NewNop() }

// startCluster starts etcd members for the run.
func startCluster() ([]string, func(), error) {
	return nil, nil, errors.New("set ROOMCAST_TEST_ETCD")
}
