package storage

import (
	"bytes"
	"fmt"
	"time"
)

// Outbox reads and retention for the delivery machinery (SSE replay, webhooks).

// EventBySeq returns the outbox event seq, or ErrNotFound (never written, or pruned).
func (t *Tx) EventBySeq(seq uint64) (Event, error) {
	var ev Event
	return ev, getJSON(t.bucket(bucketEvents), seq, &ev, "event")
}

// FirstEventSeq returns the Seq of the oldest event still in the outbox, 0 if empty.
func (t *Tx) FirstEventSeq() uint64 {
	k, _ := t.bucket(bucketEvents).Cursor().First()
	return btoi(k)
}

// PruneEvents deletes, oldest first, the events created before cutoff whose Seq is
// below seqLimit, and returns how many. It stops at the first event that must stay,
// so the outbox remains a contiguous range of sequence numbers.
func (t *Tx) PruneEvents(cutoff time.Time, seqLimit uint64) (int, error) {
	if err := t.writable("prune events"); err != nil {
		return 0, err
	}
	events := t.bucket(bucketEvents)
	c := events.Cursor()
	n := 0
	for k, v := c.First(); k != nil && btoi(k) < seqLimit; k, v = c.First() {
		var ev Event
		if err := decodeJSON(v, &ev, "event"); err != nil {
			return n, err
		}
		if !ev.CreatedAt.Before(cutoff) {
			break
		}
		if err := events.Delete(bytes.Clone(k)); err != nil {
			return n, fmt.Errorf("delete event %d: %w", btoi(k), err)
		}
		n++
	}
	return n, nil
}
