package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/roomcast/roomcast/cluster"
	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/internal/etcdtest"
)

// TestRoomLockAcrossNodes: REQUEST_LOCKED holds across the nodes of a cluster.
// While one node holds a room's lock (a request in progress), another node's
// request on that room is refused with ErrRequestLocked, and gets the lock once
// the first releases it; other rooms are not affected. Real etcd members.
func TestRoomLockAcrossNodes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts etcd members")
	}
	etcd := etcdtest.Start(t, 3)
	ctx := context.Background()
	node := func(id string) roomLocker {
		c, err := cluster.NewEtcd(ctx, etcd.Client(t), "/roomcast-lock-test", id, 2*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return roomLocker{c}
	}
	a, b := node("a"), node("b")
	unlockA, err := a.TryLock(ctx, 7)
	if err != nil {
		t.Fatalf("lock room 7 on a: %v", err)
	}
	if _, err := b.TryLock(ctx, 7); !errors.Is(err, control.ErrRequestLocked) {
		t.Fatalf("lock room 7 on b while a holds it: %v, want REQUEST_LOCKED", err)
	}
	unlock8, err := b.TryLock(ctx, 8)
	if err != nil {
		t.Fatalf("lock room 8 on b: %v", err)
	}
	unlock8()
	unlockA()
	unlockB, err := b.TryLock(ctx, 7)
	if err != nil {
		t.Fatalf("lock room 7 on b after a released it: %v", err)
	}
	unlockB()
}
