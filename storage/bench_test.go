package storage_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// fillRooms inserts n rooms of app 1 (members 1..100) in transactions of batch
// rooms each and returns them.
func fillRooms(tb testing.TB, s *storage.Store, n, batch int) []storage.Room {
	tb.Helper()
	rooms := make([]storage.Room, n)
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		update(tb, s, func(tx *storage.Tx) error {
			for i := start; i < end; i++ {
				rooms[i] = newRoom(1, uint64(i%100+1), i)
				if err := tx.PutRoom(&rooms[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return rooms
}

// BenchmarkRoomByID reads rooms by ID, each in its own View: "hot" reads 100 rooms
// (all cached), "cycle10000" walks 10 000 rooms in order (every read misses the
// 4096-room cache: decode plus cache upkeep), "nocache" is the hot set without
// the cache (Options.CacheRecords -1).
func BenchmarkRoomByID(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
		rooms int
	}{{"hot", 0, 100}, {"cycle10000", 0, 10_000}, {"nocache", -1, 100}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := storage.Open(dbPath(b), storage.Options{NoSync: true, CacheRecords: bc.cache})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			rooms := fillRooms(b, s, bc.rooms, 1000)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := rooms[i%len(rooms)].ID
				i++
				if err := s.View(func(tx *storage.Tx) error { _, err := tx.Room(id); return err }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRoomByUUID(b *testing.B) {
	s := storagetest.Open(b)
	rooms := fillRooms(b, s, 10_000, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		uuid := rooms[i%len(rooms)].UUID
		i++
		if err := s.View(func(tx *storage.Tx) error { _, err := tx.RoomByUUID(uuid); return err }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutRoom measures one insert per durable (fsync) transaction.
func BenchmarkPutRoom(b *testing.B) {
	s := openAt(b, dbPath(b))
	b.Cleanup(func() { _ = s.Close() })
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := newRoom(1, 1, i)
		i++
		if err := s.Update(func(tx *storage.Tx) error { return tx.PutRoom(&r) }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutRoomInBatch measures the per-room cost inside a shared transaction
// (no fsync per room).
func BenchmarkPutRoomInBatch(b *testing.B) {
	s := storagetest.Open(b)
	b.ReportAllocs()
	i := 0
	err := s.Update(func(tx *storage.Tx) error {
		for b.Loop() {
			r := newRoom(1, 1, i)
			i++
			if err := tx.PutRoom(&r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func BenchmarkStreamKeyBySecret(b *testing.B) {
	s := storagetest.Open(b)
	update(b, s, func(tx *storage.Tx) error {
		for i := range 1000 {
			if err := tx.PutStreamKey(&storage.StreamKey{Secret: fmt.Sprintf("secret-%d", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	b.ReportAllocs()
	ctx := b.Context()
	for b.Loop() {
		if _, err := s.StreamKeyBySecret(ctx, "secret-500"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHundredThousandRooms inserts 100 000 rooms in transactions of 1000 with
// fsync on, logs the file size, and checks the indexes at that scale.
func TestHundredThousandRooms(t *testing.T) {
	storagetest.BboltOnly(t) // measures the file
	t.Parallel()             // CPU-bound for long under -race: overlaps the other parallel tests
	if testing.Short() {
		t.Skip("slow: run without -short")
	}
	path := filepath.Join(t.TempDir(), "roomcast.db")
	s := openAt(t, path)
	rooms := fillRooms(t, s, 100_000, 1000)
	view(t, s, func(tx *storage.Tx) error {
		if n := tx.CountRoomsOfApp(1); n != len(rooms) {
			t.Errorf("CountRoomsOfApp = %d", n)
		}
		if n := tx.CountRoomsOfMember(1, 7); n != 1000 {
			t.Errorf("CountRoomsOfMember = %d", n)
		}
		last := rooms[len(rooms)-1]
		got, err := tx.RoomByUUID(last.UUID)
		if err != nil || got.ID != last.ID {
			t.Errorf("RoomByUUID(last) = %d, %v", got.ID, err)
		}
		return nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("100000 rooms: file size %d bytes (%.1f MiB, %d bytes/room)",
		fi.Size(), float64(fi.Size())/(1<<20), fi.Size()/100_000)
}

// BenchmarkOpenCheck measures Open of a store of n rooms with the full
// consistency check (the default) and without it (Options.SkipCheck).
func BenchmarkOpenCheck(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		path := dbPath(b)
		s, err := storage.Open(path, storage.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		fillRooms(b, s, n, 5000)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		for _, skip := range []bool{false, true} {
			b.Run(fmt.Sprintf("rooms%d/skipCheck=%t", n, skip), func(b *testing.B) {
				for b.Loop() {
					s, err := storage.Open(path, storage.Options{SkipCheck: skip})
					if err != nil {
						b.Fatal(err)
					}
					if err := s.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
