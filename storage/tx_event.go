package storage

import (
	"fmt"
	"math"
	"time"
)

// AppendEvent stores ev in the outbox with the next sequence number (set in
// ev.Seq). A zero CreatedAt is set to now (UTC).
func (t *Tx) AppendEvent(ev *Event) error {
	if err := t.writable("append event"); err != nil {
		return err
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = time.Now().UTC()
	}
	b := t.appendBucket(bucketEvents)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	ev.Seq = seq
	if err := putJSON(b, u64(seq), ev, "event"); err != nil {
		ev.Seq = 0
		return err
	}
	return nil
}

// ForEachEventAfter calls fn for each event with Seq > seq in order until fn
// returns more == false or an error. fn must not append or delete events.
func (t *Tx) ForEachEventAfter(seq uint64, fn func(Event) (more bool, err error)) error {
	if seq == math.MaxUint64 {
		return nil
	}
	c := t.bucket(bucketEvents).Cursor()
	for k, v := c.Seek(u64(seq + 1)); k != nil; k, v = c.Next() {
		var ev Event
		if err := decodeJSON(v, &ev, "event"); err != nil {
			return err
		}
		if more, err := fn(ev); err != nil || !more {
			return err
		}
	}
	return nil
}

// LastEventSeq returns the Seq of the newest event ever appended (0 if none),
// even when it has been deleted since.
func (t *Tx) LastEventSeq() uint64 { return t.bucket(bucketEvents).Sequence() }
