package storage_test

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

func eventSeqs(t *testing.T, s *storage.Store, after uint64, limit int) []uint64 {
	t.Helper()
	var seqs []uint64
	view(t, s, func(tx *storage.Tx) error {
		return tx.ForEachEventAfter(after, func(ev storage.Event) (bool, error) {
			seqs = append(seqs, ev.Seq)
			return limit == 0 || len(seqs) < limit, nil
		})
	})
	return seqs
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	update(t, s, func(tx *storage.Tx) error {
		for i := range 5 {
			ev := storage.Event{AppID: 1, RoomID: uint64(i), Name: "video_room.live",
				Payload: json.RawMessage(`{"n":1}`)}
			if err := tx.AppendEvent(&ev); err != nil {
				return err
			}
			if ev.Seq != uint64(i+1) || ev.CreatedAt.IsZero() {
				t.Errorf("event %d: seq %d createdAt %v", i, ev.Seq, ev.CreatedAt)
			}
		}
		return nil
	})
	view(t, s, func(tx *storage.Tx) error {
		return tx.ForEachEventAfter(4, func(ev storage.Event) (bool, error) {
			if ev.Seq != 5 || ev.RoomID != 4 || string(ev.Payload) != `{"n":1}` {
				t.Errorf("event 5 = %+v", ev)
			}
			return true, nil
		})
	})
	if got := eventSeqs(t, s, 0, 0); !slices.Equal(got, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("all events %v", got)
	}
	if got := eventSeqs(t, s, 2, 2); !slices.Equal(got, []uint64{3, 4}) {
		t.Errorf("after 2, limit 2: %v", got)
	}
	if got := eventSeqs(t, s, math.MaxUint64, 0); got != nil {
		t.Errorf("after max: %v", got)
	}
	var deleted int
	update(t, s, func(tx *storage.Tx) (err error) {
		deleted, err = tx.DeleteEventsBefore(4)
		return err
	})
	if got := eventSeqs(t, s, 0, 0); deleted != 3 || !slices.Equal(got, []uint64{4, 5}) {
		t.Errorf("after delete (%d): %v", deleted, got)
	}
	update(t, s, func(tx *storage.Tx) error {
		ev := storage.Event{Name: "x"}
		if err := tx.AppendEvent(&ev); err != nil {
			return err
		}
		if ev.Seq != 6 || tx.LastEventSeq() != 6 {
			t.Errorf("seq after delete %d, last %d", ev.Seq, tx.LastEventSeq())
		}
		return nil
	})
}
