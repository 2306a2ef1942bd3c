package vod

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomcast/roomcast/internal/s3test"
	"github.com/roomcast/roomcast/objstore"
	"github.com/roomcast/roomcast/objstore/objstoretest"
)

// TestLocalCopiesOfStoredArchivesGo: the janitor removes the local files of a
// room archived in the object store by another node once this node has stored
// its sessions, and keeps them while it has not (or while the room is not
// archived).
func TestLocalCopiesOfStoredArchivesGo(t *testing.T) {
	c := startStore(t, "local-copies")
	ctx := context.Background()
	dir := t.TempDir()
	other := "1c6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e40"
	for _, room := range []string{testRoom, other} {
		s := &synth{t: t, roomDir: filepath.Join(dir, room), segments: 1}
		s.session(1, t0)
	}
	m, err := Build(ctx, DirStore(dir), testRoom)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.save(ctx, ObjectStore{C: c}); err != nil { // archived by another node
		t.Fatal(err)
	}
	ta := newTestArchiverConfig(t, dir, func(a *Archiver) {
		a.Objects = ObjectStore{C: c}
		a.LocalStored = func(string) bool { return true }
	})
	defer ta.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, testRoom)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("local copy of an archived, stored room kept")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, other)); err != nil {
		t.Errorf("local files of a room not archived removed: %v", err)
	}
}

// startStore starts a real S3 server and returns a client of a new bucket.
func startStore(t *testing.T, bucket string) *objstore.Client {
	t.Helper()
	c := objstoretest.Client(t, s3test.Start(t), bucket)
	if err := c.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRetentionInObjectStore: with an object store, retention finds archived
// rooms in the store (their manifest's date), records the expiry and deletes
// the room's objects.
func TestRetentionInObjectStore(t *testing.T) {
	c := startStore(t, "retention")
	ctx := context.Background()
	dir := t.TempDir()
	s := &synth{t: t, roomDir: filepath.Join(dir, testRoom), segments: 1}
	sdir := s.session(1, t0)
	m, err := Build(ctx, DirStore(dir), testRoom)
	if err != nil {
		t.Fatal(err)
	}
	store := ObjectStore{C: c}
	if _, err := c.PutFile(ctx, testRoom+"/1/video1_0.m4s", filepath.Join(sdir, "video1_0.m4s")); err != nil {
		t.Fatal(err)
	}
	if err := m.save(ctx, store); err != nil {
		t.Fatal(err)
	}
	rooms, err := storedRooms(ctx, store)
	if err != nil || len(rooms) != 1 || rooms[0] != testRoom {
		t.Fatalf("rooms in the store: %v %v", rooms, err)
	}
	// the objects are seconds old: a retention of a millisecond expires them
	ta := newTestArchiverConfig(t, t.TempDir(), func(a *Archiver) {
		a.Objects = store
		a.Retention = time.Millisecond
	})
	select {
	case room := <-ta.expired:
		if room != testRoom {
			t.Fatalf("expired %s", room)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not expired")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		infos, err := c.List(ctx, testRoom+"/", true)
		if err == nil && len(infos) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects of the expired room: %d left (%v)", len(infos), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
