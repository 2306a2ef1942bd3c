package storage_test

import (
	"os"
	"testing"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// TestMain runs the suite on the engine ROOMCAST_TEST_STORE selects (see package
// storagetest): `make test` runs it on bbolt and on a three-member etcd cluster.
func TestMain(m *testing.M) {
	storage.TestEtcd = storagetest.Etcd
	os.Exit(storagetest.Main(m))
}
