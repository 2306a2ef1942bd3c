package storage_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// roomIDs lists the IDs the walk visits, stopping after limit rooms (0: all).
func roomIDs(t *testing.T, s *storage.Store, limit int,
	walk func(tx *storage.Tx, fn func(storage.Room) (bool, error)) error) []uint64 {
	t.Helper()
	var ids []uint64
	view(t, s, func(tx *storage.Tx) error {
		return walk(tx, func(r storage.Room) (bool, error) {
			ids = append(ids, r.ID)
			return limit == 0 || len(ids) < limit, nil
		})
	})
	return ids
}

func TestRoomUUIDIndex(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	r1 := putRoom(t, s, newRoom(1, 1, 1))
	r2 := putRoom(t, s, newRoom(1, 1, 2))
	if r1.ID != 1 || r2.ID != 2 {
		t.Fatalf("room IDs %d %d", r1.ID, r2.ID)
	}
	view(t, s, func(tx *storage.Tx) error {
		got, err := tx.RoomByUUID(r2.UUID)
		if err != nil || got.ID != r2.ID {
			t.Errorf("RoomByUUID = %+v, %v", got, err)
		}
		_, err = tx.RoomByUUID("nope")
		wantErr(t, err, storage.ErrNotFound)
		_, err = tx.Room(3)
		wantErr(t, err, storage.ErrNotFound)
		return nil
	})
	t.Run("uuid conflict", func(t *testing.T) {
		dup := newRoom(2, 0, 1)
		wantErr(t, s.Update(func(tx *storage.Tx) error { return tx.PutRoom(&dup) }), storage.ErrConflict)
		if dup.ID != 0 {
			t.Errorf("failed insert left ID %d", dup.ID)
		}
	})
	t.Run("uuid change removes old entry", func(t *testing.T) {
		old := r1.UUID
		r1.UUID = "changed"
		update(t, s, func(tx *storage.Tx) error { return tx.PutRoom(&r1) })
		view(t, s, func(tx *storage.Tx) error {
			_, err := tx.RoomByUUID(old)
			wantErr(t, err, storage.ErrNotFound)
			got, err := tx.RoomByUUID("changed")
			if err != nil || got.ID != r1.ID {
				t.Errorf("after uuid change: %+v %v", got, err)
			}
			return nil
		})
	})
	t.Run("empty uuid", func(t *testing.T) {
		r := newRoom(1, 1, 9)
		r.UUID = ""
		if err := s.Update(func(tx *storage.Tx) error { return tx.PutRoom(&r) }); err == nil {
			t.Error("empty uuid accepted")
		}
	})
}

func TestRoomListsOrder(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	// Apps 1, 2 and MaxUint64 interleaved; members 1 and 2 of app 1; member 0 = none.
	owners := [][2]uint64{{1, 1}, {2, 1}, {1, 2}, {1, 1}, {math.MaxUint64, 1}, {1, 0}, {2, 2}, {1, 1}}
	for i, o := range owners {
		putRoom(t, s, newRoom(o[0], o[1], i))
	}
	app := func(appID uint64, desc bool) func(*storage.Tx, func(storage.Room) (bool, error)) error {
		return func(tx *storage.Tx, fn func(storage.Room) (bool, error)) error {
			return tx.ForEachRoomOfApp(appID, desc, fn)
		}
	}
	member := func(appID, memberID uint64, desc bool) func(*storage.Tx, func(storage.Room) (bool, error)) error {
		return func(tx *storage.Tx, fn func(storage.Room) (bool, error)) error {
			return tx.ForEachRoomOfMember(appID, memberID, desc, fn)
		}
	}
	cases := []struct {
		name  string
		walk  func(*storage.Tx, func(storage.Room) (bool, error)) error
		limit int
		want  []uint64
	}{
		{"app 1 asc", app(1, false), 0, []uint64{1, 3, 4, 6, 8}},
		{"app 1 desc", app(1, true), 0, []uint64{8, 6, 4, 3, 1}},
		{"app 1 desc first two", app(1, true), 2, []uint64{8, 6}},
		{"app 2 asc", app(2, false), 0, []uint64{2, 7}},
		{"app max desc", app(math.MaxUint64, true), 0, []uint64{5}},
		{"app 3 empty", app(3, true), 0, nil},
		{"member 1/1 asc", member(1, 1, false), 0, []uint64{1, 4, 8}},
		{"member 1/1 desc", member(1, 1, true), 0, []uint64{8, 4, 1}},
		{"member 1/2 desc", member(1, 2, true), 0, []uint64{3}},
		{"member 2/1 asc", member(2, 1, false), 0, []uint64{2}},
		{"member 1/0 not indexed", member(1, 0, false), 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := roomIDs(t, s, c.limit, c.walk); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	view(t, s, func(tx *storage.Tx) error {
		if n := tx.CountRoomsOfApp(1); n != 5 {
			t.Errorf("CountRoomsOfApp(1) = %d", n)
		}
		if n := tx.CountRoomsOfMember(1, 1); n != 3 {
			t.Errorf("CountRoomsOfMember(1, 1) = %d", n)
		}
		return nil
	})
}

func TestRoomOwnerChangeAndSoftDelete(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	r := putRoom(t, s, newRoom(1, 1, 1))
	r.MemberID = 2
	update(t, s, func(tx *storage.Tx) error { return tx.PutRoom(&r) })
	if got := roomIDs(t, s, 0, func(tx *storage.Tx, fn func(storage.Room) (bool, error)) error {
		return tx.ForEachRoomOfMember(1, 1, false, fn)
	}); len(got) != 0 {
		t.Errorf("old owner still lists %v", got)
	}
	r.AppID, r.State = 7, "DELETED"
	update(t, s, func(tx *storage.Tx) error { return tx.PutRoom(&r) })
	view(t, s, func(tx *storage.Tx) error {
		if tx.CountRoomsOfApp(1) != 0 || tx.CountRoomsOfMember(1, 2) != 0 {
			t.Error("old app/member still index the room")
		}
		if tx.CountRoomsOfApp(7) != 1 || tx.CountRoomsOfMember(7, 2) != 1 {
			t.Error("new app/member do not index the room")
		}
		got, err := tx.Room(r.ID)
		if err != nil || got.State != "DELETED" {
			t.Errorf("soft-deleted room = %+v, %v", got, err)
		}
		return nil
	})
}

func TestRoomWalkStopsOnError(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	for i := range 3 {
		putRoom(t, s, newRoom(1, 1, i))
	}
	stop := errors.New("stop")
	calls := 0
	err := s.View(func(tx *storage.Tx) error {
		return tx.ForEachRoomOfApp(1, false, func(storage.Room) (bool, error) { calls++; return true, stop })
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
}
