package storage

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultCacheRecords is the number of decoded records kept per kind when
// Options.CacheRecords is zero.
const DefaultCacheRecords = 4096

// The read cache memoizes decoded records by (kind, ID) for read transactions, so
// that hot lookups (GET room: room, app, member, stream key, chat room) skip
// bbolt's page walk and the JSON decode. It is a memo of bbolt, never a second
// source of truth: a read transaction gets from it exactly what it would decode
// from its own snapshot. See doc.go "Read cache" for the argument.
//
// Clock: bbolt's transaction ID. A read transaction's ID is the ID of the last
// write transaction committed before it began (its snapshot); a write
// transaction's ID is that plus one. An entry remembers the snapshot it was read
// at (entry.snap) and is valid for every snapshot >= entry.snap until a write
// transaction touches its record.
//
//   - A write (Put) of a cached record deletes its entry inside the write
//     transaction, before commit, and raises the cache's lastWrite to the write
//     transaction's ID.
//   - A read transaction with snapshot s may fill an entry only if s >= lastWrite
//     (its snapshot includes every write that ever invalidated this kind; a write
//     still in progress has ID > s and refuses the fill). The check and the insert
//     happen under the same mutex as the invalidation.
//   - A read transaction with snapshot s uses an entry only if entry.snap <= s: an
//     entry filled from a newer snapshot is not shown to an older transaction.
//   - Write transactions neither read from nor fill the cache (they must see their
//     own writes and may roll back).
//   - When the write closure returns an error, Update restores lastWrite while
//     still holding bbolt's writer lock, so that a rollback does not stop fills.
//     (A failure inside bbolt's commit keeps the raised value: fills of that kind
//     resume with the next committed write, a lost optimization, never a stale read.)

// recordCache is the bounded cache of one record kind, evicting by the clock
// (second chance) algorithm. Cached values are immutable: get hands out clones.
type recordCache[T any] struct {
	clone func(T) T // returns a record with its own copies of its slices (nil: it has none)

	mu        sync.RWMutex
	max       int
	entries   map[uint64]*cacheEntry[T]
	ring      []*cacheEntry[T] // clock order; entry.slot is its index
	hand      int
	lastWrite uint64 // ID of the newest write transaction that invalidated this kind
}

// cacheEntry is one cached lookup: the record, or its absence (found false).
type cacheEntry[T any] struct {
	id    uint64
	val   T
	found bool
	snap  uint64 // the snapshot (transaction ID) the value was read at
	slot  int
	ref   atomic.Bool // clock reference bit
}

// newRecordCache returns a cache of at most max records.
func newRecordCache[T any](max int, clone func(T) T) *recordCache[T] {
	return &recordCache[T]{clone: clone, max: max, entries: make(map[uint64]*cacheEntry[T])}
}

// get returns the entry of id if it is valid for snapshot snap.
func (c *recordCache[T]) get(id, snap uint64) (v T, found, ok bool) {
	c.mu.RLock()
	e := c.entries[id]
	if e == nil || e.snap > snap {
		c.mu.RUnlock()
		return v, false, false
	}
	v, found = e.val, e.found
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	c.mu.RUnlock()
	if found && c.clone != nil {
		v = c.clone(v)
	}
	return v, found, true
}

// fill keeps v (found false: the absence of id) as read at snapshot snap, unless
// a write newer than snap has invalidated this kind or id is already cached.
// fill takes ownership of v.
func (c *recordCache[T]) fill(id, snap uint64, v T, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap < c.lastWrite || c.entries[id] != nil {
		return
	}
	if len(c.ring) >= c.max {
		c.evict()
	}
	e := &cacheEntry[T]{id: id, val: v, found: found, snap: snap, slot: len(c.ring)}
	c.entries[id] = e
	c.ring = append(c.ring, e)
}

// evict removes one entry: the first one after the hand whose reference bit is
// clear, clearing the bits it passes.
func (c *recordCache[T]) evict() {
	for {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		e := c.ring[c.hand]
		if e.ref.Load() {
			e.ref.Store(false)
			c.hand++
			continue
		}
		c.remove(e)
		return
	}
}

// remove deletes e from the map and the ring (the last ring entry takes its slot).
func (c *recordCache[T]) remove(e *cacheEntry[T]) {
	last := c.ring[len(c.ring)-1]
	c.ring[e.slot], last.slot = last, e.slot
	c.ring[len(c.ring)-1] = nil
	c.ring = c.ring[:len(c.ring)-1]
	delete(c.entries, e.id)
}

// invalidate drops id for write transaction txID and raises lastWrite to txID.
// It returns the previous lastWrite (for undo on rollback).
func (c *recordCache[T]) invalidate(id, txID uint64) (prev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev = c.lastWrite
	c.lastWrite = max(c.lastWrite, txID)
	if e := c.entries[id]; e != nil {
		c.remove(e)
	}
	return prev
}

// undo restores lastWrite after the write transaction txID rolled back. The
// caller holds bbolt's writer lock, so no other write raised it meanwhile.
func (c *recordCache[T]) undo(txID, prev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastWrite == txID {
		c.lastWrite = prev
	}
}

// clear drops every entry and refuses fills from snapshots before rev (the etcd
// engine lost track of changes up to rev).
func (c *recordCache[T]) clear(rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	clear(c.ring)
	c.ring, c.hand = c.ring[:0], 0
	c.lastWrite = max(c.lastWrite, rev)
}

// len returns the number of cached entries (tests).
func (c *recordCache[T]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// caches holds the record caches of one Store.
type caches struct {
	rooms     *recordCache[Room]
	apps      *recordCache[App]
	members   *recordCache[Member]
	keys      *recordCache[StreamKey]
	chatRooms *recordCache[ChatRoom]
	hits      atomic.Uint64 // lookups served by the cache
	misses    atomic.Uint64 // lookups of read transactions decoded from bbolt
}

// newCaches returns the caches for Options.CacheRecords n (nil when disabled).
func newCaches(n int) *caches {
	switch {
	case n < 0:
		return nil
	case n == 0:
		n = DefaultCacheRecords
	}
	return &caches{
		rooms:     newRecordCache(n, cloneRoom),
		apps:      newRecordCache(n, cloneApp),
		members:   newRecordCache[Member](n, nil),
		keys:      newRecordCache[StreamKey](n, nil),
		chatRooms: newRecordCache[ChatRoom](n, nil),
	}
}

// cloneRoom returns r with its own copies of every slice (cached values stay
// immutable). Records pass by value: a pointer through the func field would move
// every looked-up record to the heap.
func cloneRoom(r Room) Room {
	r.CustomData = slices.Clone(r.CustomData)
	r.PasswordHash = slices.Clone(r.PasswordHash)
	r.WebhookEvents = slices.Clone(r.WebhookEvents)
	r.Sessions = slices.Clone(r.Sessions)
	return r
}

// cloneApp returns a with its own copies of every slice.
func cloneApp(a App) App {
	a.APISecretHash = slices.Clone(a.APISecretHash)
	a.CallbackEvents = slices.Clone(a.CallbackEvents)
	return a
}

// recordKind describes one cached record kind: where it is stored, its name in
// errors, how to clone it and which cache of a Store holds it.
type recordKind[T any] struct {
	bucket []byte
	name   string
	pick   func(*caches) *recordCache[T]
}

// The cached kinds.
var (
	roomKind     = recordKind[Room]{bucketRooms, "room", func(c *caches) *recordCache[Room] { return c.rooms }}
	appKind      = recordKind[App]{bucketApps, "app", func(c *caches) *recordCache[App] { return c.apps }}
	memberKind   = recordKind[Member]{bucketMembers, "member", func(c *caches) *recordCache[Member] { return c.members }}
	keyKind      = recordKind[StreamKey]{bucketKeys, "stream key", func(c *caches) *recordCache[StreamKey] { return c.keys }}
	chatRoomKind = recordKind[ChatRoom]{bucketChatRooms, "chat room", func(c *caches) *recordCache[ChatRoom] { return c.chatRooms }}
)

// getCached returns record id of kind k as t's snapshot holds it: from the cache
// in a read transaction when an entry is valid for the snapshot, otherwise
// decoded from bbolt (and cached when the snapshot allows). Without a cache, or
// in a write transaction, it is getJSON.
func getCached[T any](t *Tx, k recordKind[T], id uint64) (T, error) {
	if t.caches == nil || t.tx.Writable() || !t.tx.Cacheable() {
		return getUncached(t, k, id)
	}
	c := k.pick(t.caches)
	snap := t.tx.Snapshot()
	if v, found, ok := c.get(id, snap); ok {
		t.caches.hits.Add(1)
		if !found {
			return v, &notFoundError{k.name, id}
		}
		return v, nil
	}
	t.caches.misses.Add(1)
	return fillCached(t, k, c, id, snap)
}

// fillCached is the miss path of getCached: decode from bbolt and keep the result
// (a separate function so that the decode's &v does not move the hit path's
// record to the heap).
func fillCached[T any](t *Tx, k recordKind[T], c *recordCache[T], id, snap uint64) (T, error) {
	var v T
	data := t.bucket(k.bucket).Get(u64(id))
	if data == nil {
		c.fill(id, snap, v, false)
		return v, &notFoundError{k.name, id}
	}
	if err := decodeJSON(data, &v, k.name); err != nil {
		return v, fmt.Errorf("%s %d: %w", k.name, id, err)
	}
	kept := v
	if c.clone != nil {
		v = c.clone(v)
	}
	c.fill(id, snap, kept, true)
	return v, nil
}

// getUncached decodes record id of kind k from bbolt.
func getUncached[T any](t *Tx, k recordKind[T], id uint64) (T, error) {
	var v T
	err := getJSON(t.bucket(k.bucket), id, &v, k.name)
	return v, err
}

// invalidateCached drops record id of kind k inside write transaction t and
// registers the undo for a rollback (see Store.Update).
func invalidateCached[T any](t *Tx, k recordKind[T], id uint64) {
	if t.caches == nil || id == 0 || !t.tx.Writable() {
		return
	}
	c := k.pick(t.caches)
	txID := t.tx.Snapshot()
	prev := c.invalidate(id, txID)
	t.undo = append(t.undo, func() { c.undo(txID, prev) })
}
