package storage_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

const pageSize = 4096 // bbolt's page size is the OS page size; the tests below assume 4 KiB

// filledStore writes n rooms with long descriptions (a few per page) to a new
// file, closes it and returns its path and rooms.
func filledStore(t *testing.T, n int) (string, []storage.Room) {
	t.Helper()
	if os.Getpagesize() != pageSize {
		t.Skipf("page size %d: the damage offsets assume 4096", os.Getpagesize())
	}
	path := dbPath(t)
	s, err := storage.Open(path, storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rooms := make([]storage.Room, n)
	update(t, s, func(tx *storage.Tx) error {
		for i := range rooms {
			rooms[i] = newRoom(1, 1, i)
			rooms[i].Description = strings.Repeat("d", 1500)
			if err := tx.PutRoom(&rooms[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, rooms
}

// pageOf returns the offset of the page holding the stored JSON of room r.
func pageOf(t *testing.T, path string, r storage.Room) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"uuid":"`+r.UUID+`"`))
	if i < 0 {
		t.Fatalf("room %s not found in the file", r.UUID)
	}
	return int64(i) / pageSize * pageSize
}

// smash overwrites the page header at off with garbage (page type 0xffff).
func smash(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 16), off); err != nil {
		t.Fatal(err)
	}
}

// wantCorrupt fails unless err is a *CorruptError for path.
func wantCorrupt(t *testing.T, err error, path, reason string) {
	t.Helper()
	var ce *storage.CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("got %v, want a damaged-store error", err)
	}
	if ce.Path != path || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("got %q, want path %s and a reason with %q", err, path, reason)
	}
}

func TestOpenRefusesEmptyFile(t *testing.T) {
	storagetest.BboltOnly(t)
	path := dbPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := storage.Open(path, storage.Options{})
	wantCorrupt(t, err, path, "empty file")
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Fatalf("Open wrote %d bytes into the empty file", fi.Size())
	}
	_, err = storage.Check(path, 0)
	wantCorrupt(t, err, path, "empty file")
}

func TestOpenRefusesTruncatedFile(t *testing.T) {
	storagetest.BboltOnly(t)
	path, _ := filledStore(t, 200)
	fi, _ := os.Stat(path)
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	_, err := storage.Open(path, storage.Options{})
	wantCorrupt(t, err, path, "truncated")
	_, err = storage.Check(path, 0)
	wantCorrupt(t, err, path, "truncated")
}

func TestOpenRefusesSmashedPages(t *testing.T) {
	storagetest.BboltOnly(t)
	path, rooms := filledStore(t, 200)
	smash(t, path, pageOf(t, path, rooms[100]))
	_, err := storage.Open(path, storage.Options{})
	wantCorrupt(t, err, path, "")
	_, err = storage.Check(path, 0)
	wantCorrupt(t, err, path, "")
}

func TestOpenRefusesSmashedMeta(t *testing.T) {
	storagetest.BboltOnly(t)
	path, _ := filledStore(t, 10)
	smash(t, path, 0)
	smash(t, path, pageSize)
	_, err := storage.Open(path, storage.Options{})
	wantCorrupt(t, err, path, "")
}

// A page damaged while the store is open: the transaction that reaches it fails
// with ErrCorrupt, the others go on.
func TestDamagedPageFailsOnlyItsTransactions(t *testing.T) {
	storagetest.BboltOnly(t)
	path, rooms := filledStore(t, 200)
	s := openAt(t, path)
	t.Cleanup(func() { _ = s.Close() })
	bad, good := rooms[100], rooms[0]
	if pageOf(t, path, bad) == pageOf(t, path, good) {
		t.Fatal("rooms share a page")
	}
	smash(t, path, pageOf(t, path, bad))
	err := s.View(func(tx *storage.Tx) error { _, err := tx.Room(bad.ID); return err })
	wantCorrupt(t, err, path, "")
	err = s.Update(func(tx *storage.Tx) error {
		r, err := tx.Room(bad.ID)
		if err != nil {
			return err
		}
		return tx.PutRoom(&r)
	})
	wantCorrupt(t, err, path, "")
	view(t, s, func(tx *storage.Tx) error {
		r, err := tx.Room(good.ID)
		if err == nil && r.UUID != good.UUID {
			t.Errorf("room %d: got %s", good.ID, r.UUID)
		}
		return err
	})
}

// A panic of the caller's own code is a bug, not damage: it is not swallowed.
func TestViewRepanicsForCallerBugs(t *testing.T) {
	storagetest.BboltOnly(t)
	s := openAt(t, dbPath(t))
	t.Cleanup(func() { _ = s.Close() })
	defer func() {
		if r := recover(); r != "caller bug" {
			t.Fatalf("recovered %v, want the caller's panic", r)
		}
	}()
	_ = s.View(func(*storage.Tx) error { panic("caller bug") })
}

func TestUpdateReportsStorageFull(t *testing.T) {
	storagetest.BboltOnly(t)
	path := dbPath(t)
	s, err := storage.Open(path, storage.Options{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var full error
	stored := 0
	for i := 0; i < 10_000 && full == nil; i++ {
		full = s.Update(func(tx *storage.Tx) error {
			for j := range 50 {
				r := newRoom(1, 1, i*50+j)
				r.Description = strings.Repeat("x", 1000)
				if err := tx.PutRoom(&r); err != nil {
					return err
				}
			}
			return nil
		})
		if full == nil {
			stored += 50
		}
	}
	wantErr(t, full, storage.ErrFull)
	// Nothing of the failed transaction was written; the store still reads.
	view(t, s, func(tx *storage.Tx) error {
		if n := tx.CountRoomsOfApp(1); n != stored {
			t.Errorf("%d rooms after the failed commit, want %d", n, stored)
		}
		return nil
	})
}

func TestCheckAndBackupFile(t *testing.T) {
	storagetest.BboltOnly(t)
	path, rooms := filledStore(t, 50)
	rep, err := storage.Check(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rooms != len(rooms) || rep.SchemaVersion == 0 {
		t.Fatalf("check report %+v", rep)
	}
	out := filepath.Join(t.TempDir(), "copy.db")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storage.BackupFile(path, f, nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, out)
	defer s.Close()
	view(t, s, func(tx *storage.Tx) error {
		if n := tx.CountRoomsOfApp(1); n != len(rooms) {
			t.Errorf("copy holds %d rooms, want %d", n, len(rooms))
		}
		return nil
	})
}

// A file cut short while the store is open (a disk or an operator error): reads
// that reach the pages that are gone (the bucket roots, written last, are among
// them) fail with ErrCorrupt instead of killing the process with SIGBUS.
func TestFileTruncatedWhileOpen(t *testing.T) {
	storagetest.BboltOnly(t)
	path, rooms := filledStore(t, 200)
	s, err := storage.Open(path, storage.Options{CacheRecords: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	last := rooms[len(rooms)-1]
	cut := pageOf(t, path, last)
	if cut <= pageOf(t, path, rooms[0]) {
		t.Fatal("the first and the last room share a page")
	}
	if err := os.Truncate(path, cut); err != nil {
		t.Fatal(err)
	}
	for _, r := range []storage.Room{last, rooms[0]} {
		err = s.View(func(tx *storage.Tx) error { _, err := tx.Room(r.ID); return err })
		wantCorrupt(t, err, path, "")
	}
}
