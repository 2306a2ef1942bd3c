package storage_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// TestConcurrentUpdates runs many writers and readers at once (meaningful with
// -race): every insert gets a distinct ID and every record is found afterwards.
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	const writers, perWriter = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := range writers {
		wg.Go(func() { errs <- writeMembersAndRooms(s, uint64(w), perWriter) })
		wg.Go(func() { errs <- readRooms(s, perWriter) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	view(t, s, func(tx *storage.Tx) error {
		seen := map[uint64]bool{}
		for w := range writers {
			n := 0
			err := tx.ForEachRoomOfApp(1, false, func(r storage.Room) (bool, error) {
				if r.MemberID == uint64(w+1) {
					n++
				}
				seen[r.ID] = true
				return true, nil
			})
			if err != nil || n != perWriter {
				t.Errorf("writer %d: %d rooms, %v", w, n, err)
			}
		}
		if len(seen) != writers*perWriter {
			t.Errorf("%d distinct room IDs, want %d", len(seen), writers*perWriter)
		}
		return nil
	})
}

// writeMembersAndRooms creates one member and n rooms in separate transactions.
func writeMembersAndRooms(s *storage.Store, w uint64, n int) error {
	m := storage.Member{AppID: 1, AppUserID: fmt.Sprintf("user-%d", w)}
	if err := s.Update(func(tx *storage.Tx) error { return tx.PutMember(&m) }); err != nil {
		return err
	}
	for i := range n {
		r := newRoom(1, m.ID, int(w)*1000+i)
		err := s.Update(func(tx *storage.Tx) error {
			if err := tx.PutRoom(&r); err != nil {
				return err
			}
			return tx.AppendEvent(&storage.Event{AppID: 1, RoomID: r.ID, Name: "created"})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// readRooms walks the app's rooms n times while writers run.
func readRooms(s *storage.Store, n int) error {
	for range n {
		err := s.View(func(tx *storage.Tx) error {
			return tx.ForEachRoomOfApp(1, true, func(storage.Room) (bool, error) { return true, nil })
		})
		if err != nil {
			return err
		}
	}
	return nil
}
