package storage

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Webhook delivery buckets (migration 3):
//
//	deliveries              deliveryID (seq)                     Delivery
//	deliveries_by_app       appID | deliveryID                   empty  (the delivery log)
//	deliveries_pending      appID | kind | roomID | deliveryID   empty  (Status PENDING; a lane is
//	                                                                    the 24-byte prefix)
var (
	bucketDeliveries        = []byte("deliveries")
	bucketDeliveriesByApp   = []byte("deliveries_by_app")
	bucketDeliveriesPending = []byte("deliveries_pending")
)

// deliveryBuckets are the buckets of migration 3.
var deliveryBuckets = [][]byte{bucketDeliveries, bucketDeliveriesByApp, bucketDeliveriesPending}

// createDeliveryBuckets is migration 3: the webhook delivery buckets (issue 6).
func createDeliveryBuckets(tx kvTx) error {
	for _, name := range deliveryBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// laneLen is the length of a lane prefix in deliveries_pending.
const laneLen = 24

// kindCode maps a delivery kind to its lane key byte value.
func kindCode(kind string) uint64 {
	if kind == DeliveryRoomWebhook {
		return 2
	}
	return 1
}

// pendingKey is the deliveries_pending key of d.
func pendingKey(d *Delivery) []byte {
	return binary.BigEndian.AppendUint64(triple(d.AppID, kindCode(d.Kind), d.RoomID), d.ID)
}

// Delivery returns delivery id, or ErrNotFound.
func (t *Tx) Delivery(id uint64) (Delivery, error) {
	var d Delivery
	return d, getJSON(t.bucket(bucketDeliveries), id, &d, "delivery")
}

// PutDelivery inserts (ID 0) or replaces d and keeps the app log and the pending
// lanes in step with d.Status.
func (t *Tx) PutDelivery(d *Delivery) error {
	b := t.appendBucket(bucketDeliveries)
	return t.putRecord("delivery", b, &d.ID, d, func() error {
		old, found, err := previous[Delivery](b, d.ID, "delivery")
		if err != nil {
			return err
		}
		if !found {
			if err := t.appendBucket(bucketDeliveriesByApp).Put(pair(d.AppID, d.ID), nil); err != nil {
				return err
			}
		}
		pending := t.appendBucket(bucketDeliveriesPending)
		if found && old.Status == DeliveryPending {
			if err := pending.Delete(pendingKey(&old)); err != nil {
				return err
			}
		}
		if d.Status == DeliveryPending {
			return pending.Put(pendingKey(d), nil)
		}
		return nil
	})
}

// ForEachDeliveryOfApp walks the delivery log of app appID, newest first when desc,
// until fn returns more == false or an error.
func (t *Tx) ForEachDeliveryOfApp(appID uint64, desc bool, fn func(Delivery) (more bool, err error)) error {
	all := t.bucket(bucketDeliveries)
	return scanPrefix(t.bucket(bucketDeliveriesByApp), u64(appID), desc, func(k []byte) (bool, error) {
		var d Delivery
		if err := getJSON(all, btoi(k[8:]), &d, "delivery"); err != nil {
			return false, err
		}
		return fn(d)
	})
}

// ForEachPendingLaneHead calls fn with the oldest PENDING delivery of every lane
// (AppID, Kind, RoomID), the only one of its lane that may be attempted, until fn
// returns more == false or an error. It costs one seek per lane.
func (t *Tx) ForEachPendingLaneHead(fn func(Delivery) (more bool, err error)) error {
	all := t.bucket(bucketDeliveries)
	c := t.bucket(bucketDeliveriesPending).Cursor()
	for k, _ := c.First(); k != nil; {
		var d Delivery
		if err := getJSON(all, btoi(k[laneLen:]), &d, "delivery"); err != nil {
			return err
		}
		if more, err := fn(d); err != nil || !more {
			return err
		}
		end := prefixEnd(k[:laneLen])
		if end == nil {
			return nil
		}
		k, _ = c.Seek(end)
	}
	return nil
}

// MinPendingEventSeq returns the smallest EventSeq of all PENDING deliveries, or 0
// when none is pending (outbox pruning keeps their events).
func (t *Tx) MinPendingEventSeq() (uint64, error) {
	all := t.bucket(bucketDeliveries)
	var low uint64
	err := t.bucket(bucketDeliveriesPending).ForEach(func(k, _ []byte) error {
		var d Delivery
		if err := getJSON(all, btoi(k[laneLen:]), &d, "delivery"); err != nil {
			return err
		}
		if low == 0 || d.EventSeq < low {
			low = d.EventSeq
		}
		return nil
	})
	return low, err
}

// DeleteDeliveriesBefore deletes the DELIVERED and FAILED deliveries created before
// cutoff (log retention) and returns how many. PENDING ones stay.
func (t *Tx) DeleteDeliveriesBefore(cutoff time.Time) (int, error) {
	if err := t.writable("delete deliveries"); err != nil {
		return 0, err
	}
	all := t.bucket(bucketDeliveries)
	var doomed []Delivery
	c := all.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var d Delivery
		if err := decodeJSON(v, &d, "delivery"); err != nil {
			return 0, err
		}
		if !d.CreatedAt.Before(cutoff) {
			break // IDs grow with creation time
		}
		if d.Status != DeliveryPending {
			doomed = append(doomed, d)
		}
	}
	byApp := t.bucket(bucketDeliveriesByApp)
	for _, d := range doomed {
		if err := all.Delete(u64(d.ID)); err != nil {
			return 0, fmt.Errorf("delete delivery %d: %w", d.ID, err)
		}
		if err := byApp.Delete(pair(d.AppID, d.ID)); err != nil {
			return 0, fmt.Errorf("delete delivery %d: %w", d.ID, err)
		}
	}
	return len(doomed), nil
}
