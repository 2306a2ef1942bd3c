package storage_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// TestUpdateReportsENOSPC fills a real 2 MiB tmpfs: the commit that does not fit
// fails with ErrFull (ENOSPC), nothing of it is kept, the store goes on reading.
// Mounting needs root (CAP_SYS_ADMIN); TestUpdateReportsStorageFull covers the
// same path with Options.MaxSize everywhere.
func TestUpdateReportsENOSPC(t *testing.T) {
	storagetest.BboltOnly(t)
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs needs root; TestUpdateReportsStorageFull covers ErrFull with Options.MaxSize")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700"); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs here (%v); TestUpdateReportsStorageFull covers ErrFull with Options.MaxSize", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	path := filepath.Join(dir, "roomcast.db")
	s, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var full error
	stored := 0
	for i := 0; i < 10_000 && full == nil; i++ {
		full = s.Update(func(tx *storage.Tx) error {
			for j := range 20 {
				r := newRoom(1, 1, i*20+j)
				r.Description = strings.Repeat("x", 1000)
				if err := tx.PutRoom(&r); err != nil {
					return err
				}
			}
			return nil
		})
		if full == nil {
			stored += 20
		}
	}
	wantErr(t, full, storage.ErrFull)
	if !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC underneath", full)
	}
	view(t, s, func(tx *storage.Tx) error {
		if n := tx.CountRoomsOfApp(1); n != stored {
			t.Errorf("%d rooms after the failed commit, want %d", n, stored)
		}
		return nil
	})
}
