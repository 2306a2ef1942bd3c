package storage

import (
	"bytes"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestEtcd returns the etcd client of an etcd test run (nil on bbolt). The
// external tests set it (package storagetest knows the run); the tests of this
// package open stores through testOpen.
var TestEtcd = func() *clientv3.Client { return nil }

// Store methods only the tests use (compiled with the tests, not in the binary).

// CountDeliveriesOfApp returns the length of app appID's delivery log.
func (t *Tx) CountDeliveriesOfApp(appID uint64) int {
	return count(t.bucket(bucketDeliveriesByApp), u64(appID))
}

// PendingDeliveryCount returns the number of PENDING deliveries.
func (t *Tx) PendingDeliveryCount() int { return count(t.bucket(bucketDeliveriesPending), nil) }

// CountRoomsOfApp returns the number of rooms of the app, deleted ones included.
// It walks index keys only (no record is decoded).
func (t *Tx) CountRoomsOfApp(appID uint64) int {
	return count(t.bucket(bucketRoomsByApp), u64(appID))
}

// CountRoomsOfMember returns the number of rooms owned by the member, deleted
// ones included.
func (t *Tx) CountRoomsOfMember(appID, memberID uint64) int {
	return count(t.bucket(bucketRoomsByMember), pair(appID, memberID))
}

// ForEachRoomOfMember is ForEachRoomOfApp restricted to rooms owned by memberID.
func (t *Tx) ForEachRoomOfMember(appID, memberID uint64, desc bool, fn func(Room) (more bool, err error)) error {
	return t.forEachListedRoom(bucketRoomsByMember, pair(appID, memberID), desc, fn)
}

// DeleteEventsBefore deletes every event with Seq < seq and returns how many.
// The sequence is not reset: later events keep increasing numbers.
func (t *Tx) DeleteEventsBefore(seq uint64) (int, error) {
	if err := t.writable("delete events"); err != nil {
		return 0, err
	}
	events := t.bucket(bucketEvents)
	c := events.Cursor()
	n := 0
	for k, _ := c.First(); k != nil && btoi(k) < seq; k, _ = c.First() {
		if err := events.Delete(bytes.Clone(k)); err != nil {
			return n, fmt.Errorf("delete event %d: %w", btoi(k), err)
		}
		n++
	}
	return n, nil
}

// DeleteMeta removes key from the meta bucket (no error when absent).
func (t *Tx) DeleteMeta(key string) error {
	if err := t.writableMeta(key); err != nil {
		return err
	}
	if err := t.bucket(bucketMeta).Delete([]byte(key)); err != nil {
		return fmt.Errorf("delete meta %q: %w", key, err)
	}
	return nil
}
