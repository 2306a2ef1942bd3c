package storage_test

import (
	"slices"
	"testing"
	"time"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// laneHeads returns the IDs of the pending lane heads.
func laneHeads(t *testing.T, s *storage.Store) []uint64 {
	t.Helper()
	var ids []uint64
	view(t, s, func(tx *storage.Tx) error {
		return tx.ForEachPendingLaneHead(func(d storage.Delivery) (bool, error) {
			ids = append(ids, d.ID)
			return true, nil
		})
	})
	return ids
}

func TestDeliveryLanes(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Lanes: app 1 room 7 callback (ids 1, 3), app 1 room 7 webhook (2), app 2 room 0 (4).
	specs := []storage.Delivery{
		{AppID: 1, Kind: storage.DeliveryAppCallback, RoomID: 7, EventSeq: 10},
		{AppID: 1, Kind: storage.DeliveryRoomWebhook, RoomID: 7, EventSeq: 10},
		{AppID: 1, Kind: storage.DeliveryAppCallback, RoomID: 7, EventSeq: 11},
		{AppID: 2, Kind: storage.DeliveryAppCallback, EventSeq: 12},
	}
	update(t, s, func(tx *storage.Tx) error {
		for i := range specs {
			specs[i].Status, specs[i].CreatedAt = storage.DeliveryPending, t0.Add(time.Duration(i)*time.Hour)
			if err := tx.PutDelivery(&specs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if got := laneHeads(t, s); !slices.Equal(got, []uint64{1, 2, 4}) {
		t.Fatalf("lane heads %v, want [1 2 4]", got)
	}
	// Delivering the head of a lane makes the next one its head.
	update(t, s, func(tx *storage.Tx) error {
		d, err := tx.Delivery(1)
		if err != nil {
			return err
		}
		d.Status, d.Attempts = storage.DeliveryDelivered, 1
		return tx.PutDelivery(&d)
	})
	if got := laneHeads(t, s); !slices.Equal(got, []uint64{3, 2, 4}) { // key order: app, kind, room
		t.Fatalf("lane heads %v, want [3 2 4]", got)
	}
	view(t, s, func(tx *storage.Tx) error {
		if n := tx.CountDeliveriesOfApp(1); n != 3 {
			t.Errorf("app 1 log: %d deliveries, want 3", n)
		}
		if n := tx.PendingDeliveryCount(); n != 3 {
			t.Errorf("%d pending, want 3", n)
		}
		if low, err := tx.MinPendingEventSeq(); err != nil || low != 10 {
			t.Errorf("min pending seq %d %v, want 10", low, err)
		}
		var ids []uint64
		err := tx.ForEachDeliveryOfApp(1, true, func(d storage.Delivery) (bool, error) {
			ids = append(ids, d.ID)
			return true, nil
		})
		if err != nil || !slices.Equal(ids, []uint64{3, 2, 1}) {
			t.Errorf("app 1 log newest first: %v %v", ids, err)
		}
		return nil
	})
	// Retention deletes finished deliveries only.
	update(t, s, func(tx *storage.Tx) error {
		n, err := tx.DeleteDeliveriesBefore(t0.Add(10 * time.Hour))
		if err != nil || n != 1 {
			t.Errorf("deleted %d %v, want 1", n, err)
		}
		_, err = tx.Delivery(1)
		wantErr(t, err, storage.ErrNotFound)
		return nil
	})
	if got := laneHeads(t, s); !slices.Equal(got, []uint64{3, 2, 4}) {
		t.Fatalf("lane heads after retention %v", got)
	}
}

func TestPruneEvents(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	update(t, s, func(tx *storage.Tx) error {
		for i := range 6 {
			ev := storage.Event{AppID: 1, Name: "x", CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
			if err := tx.AppendEvent(&ev); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx *storage.Tx) error {
		// Older than 4 h: seqs 1..4; below seq 3 only: 1, 2.
		n, err := tx.PruneEvents(t0.Add(4*time.Hour), 3)
		if err != nil || n != 2 {
			t.Errorf("pruned %d %v, want 2", n, err)
		}
		if first := tx.FirstEventSeq(); first != 3 {
			t.Errorf("first seq %d, want 3", first)
		}
		if _, err := tx.EventBySeq(2); err == nil {
			t.Error("event 2 still readable")
		}
		if ev, err := tx.EventBySeq(3); err != nil || ev.Seq != 3 {
			t.Errorf("event 3: %v %v", ev, err)
		}
		n, err = tx.PruneEvents(t0.Add(4*time.Hour), 100)
		if err != nil || n != 2 {
			t.Errorf("pruned %d %v, want 2 (seqs 3, 4)", n, err)
		}
		return nil
	})
}
