// Package storagetest opens throwaway stores for tests of packages that use
// storage (after bbolt's internal/btesting), on the engine the test run selects:
//
//	ROOMCAST_TEST_STORE=bbolt (default)  a file in t.TempDir()
//	ROOMCAST_TEST_STORE=etcd             a fresh key prefix on an etcd cluster:
//	                                     ROOMCAST_TEST_ETCD (comma-separated
//	                                     endpoints) or, when unset, three etcd
//	                                     members that Main starts on loopback
//
// `make test` runs the storage suite on both engines.
package storagetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/roomcast/roomcast/storage"
)

// client is the etcd client of an etcd test run (nil: bbolt).
var client *clientv3.Client

// Main runs the tests of a package on the selected engine and returns the exit
// code for os.Exit. With ROOMCAST_TEST_STORE=etcd it connects to the cluster
// (starting one when ROOMCAST_TEST_ETCD is unset) before the tests and closes it
// after.
func Main(m *testing.M) int {
	switch engine := os.Getenv("ROOMCAST_TEST_STORE"); engine {
	case "", "bbolt":
		return m.Run()
	case "etcd":
	default:
		fmt.Fprintf(os.Stderr, "ROOMCAST_TEST_STORE=%q: want bbolt or etcd\n", engine)
		return 2
	}
	stop, err := connect()
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd for the tests: %v\n", err)
		return 2
	}
	defer stop()
	return m.Run()
}

// Etcd returns the etcd client of an etcd test run, nil on bbolt.
func Etcd() *clientv3.Client { return client }

// connect dials the test cluster and returns what undoes it.
func connect() (func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	endpoints := os.Getenv("ROOMCAST_TEST_ETCD")
	if endpoints == "" {
		eps, closeCluster, err := startCluster()
		if err != nil {
			return nil, err
		}
		stops = append(stops, closeCluster)
		endpoints = strings.Join(eps, ",")
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   strings.Split(endpoints, ","),
		DialTimeout: 5 * time.Second,
		Logger:      quietLogger(),
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("dial %s: %w", endpoints, err)
	}
	stops = append(stops, func() { _ = c.Close() })
	client = c
	return stop, nil
}

// Open opens a new store and closes it in t.Cleanup. A bbolt store uses
// Options.NoSync because a test's file does not need to survive a crash.
func Open(t testing.TB) *storage.Store {
	t.Helper()
	s, err := OpenAt(filepath.Join(t.TempDir(), "roomcast.db"), storage.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// OpenAt opens the store that path names: the bbolt file, or on etcd the prefix
// derived from path (opening the same path again opens the same data, as a file
// would).
func OpenAt(path string, opts storage.Options) (*storage.Store, error) {
	if client == nil {
		return storage.Open(path, opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return storage.OpenEtcd(ctx, storage.EtcdOptions{Client: client, Prefix: Prefix(path), Options: opts})
}

// Prefix returns the etcd key prefix that stands for the store file path.
func Prefix(path string) string {
	sum := sha256.Sum256([]byte(path))
	return "/roomcast-test/" + hex.EncodeToString(sum[:8])
}

// BboltOnly skips a test of what only a bbolt file has (its lock, its pages, its
// size) on an etcd run.
func BboltOnly(t testing.TB) {
	t.Helper()
	if client != nil {
		t.Skip("tests the bbolt file itself")
	}
}
