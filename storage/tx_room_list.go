package storage

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// List indexes of rooms (schema version 4; doc.go "Room lists"). Only rooms with
// State "ACTIVE" are listed. Every listed room has an entry in its app's scope
// and, when it has an owner, in its member's scope:
//
//	scope = appID | memberID (0 for the app-wide scope)
//	combo = videoRoomState 0x00 type 0x00 accessLevel 0x00
//	rooms_list_created   scope | combo | roomID                 → lower-cased title
//	rooms_list_modified  scope | combo | lastModified | roomID  → lower-cased title
//	rooms_list_count     scope | combo                          → uint64 count
//
// A query reads the few counters of its scope (at most states × types × access
// levels), keeps the combos its filters match, sums their counts (the total) and
// merges one cursor per combo in the requested order. The title in the value lets
// a keyword query test entries without decoding rooms.
var (
	bucketRoomsListCreated  = []byte("rooms_list_created")
	bucketRoomsListModified = []byte("rooms_list_modified")
	bucketRoomsListCount    = []byte("rooms_list_count")
)

// roomListBuckets are the buckets of migration 4.
var roomListBuckets = [][]byte{bucketRoomsListCreated, bucketRoomsListModified, bucketRoomsListCount}

// createRoomListIndexes is migration 4: the list buckets, filled from every room.
func createRoomListIndexes(tx kvTx) error {
	for _, name := range roomListBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	t := &Tx{tx: tx}
	return tx.Bucket(bucketRooms).ForEach(func(k, v []byte) error {
		var r Room
		if err := decodeJSON(v, &r, "room"); err != nil {
			return fmt.Errorf("room %d: %w", btoi(k), err)
		}
		return t.relist(Room{}, false, &r)
	})
}

// RoomQuery selects a page of rooms of one app (Tx.ListRooms). Empty strings
// match any value.
type RoomQuery struct {
	AppID       uint64
	MemberID    uint64 // 0: every room of the app
	State       string // VideoRoomState
	Type        string
	AccessLevel string
	Keyword     string // case-insensitive substring of the title
	ByModified  bool   // order by LastModifiedAt (ties by ID) instead of ID (creation)
	Desc        bool
	Offset      int
	Limit       int
}

// ListRooms returns the page of listed (ACTIVE) rooms that q selects and the
// number of rooms matching q. Without a keyword it costs one seek per matching
// combo, Offset+Limit index steps and Limit record reads; a keyword query steps
// through every index entry of the matching combos (keys and titles, no record
// decoded).
func (t *Tx) ListRooms(q RoomQuery) ([]Room, int, error) {
	scope := pair(q.AppID, q.MemberID)
	total := 0
	var prefixes [][]byte
	counts := t.bucket(bucketRoomsListCount)
	c := counts.Cursor()
	for k, v := c.Seek(scope); k != nil && bytes.HasPrefix(k, scope); k, v = c.Next() {
		if !q.matchesCombo(k[len(scope):]) {
			continue
		}
		total += int(btoi(v))
		prefixes = append(prefixes, bytes.Clone(k))
	}
	index := t.bucket(bucketRoomsListCreated)
	if q.ByModified {
		index = t.bucket(bucketRoomsListModified)
	}
	m := newMerge(index, prefixes, q.Desc)
	keyword := strings.ToLower(q.Keyword)
	var ids []uint64
	matched := 0
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		if keyword != "" && !strings.Contains(string(v), keyword) {
			continue
		}
		if matched >= q.Offset && len(ids) < q.Limit {
			ids = append(ids, btoi(k[len(k)-8:]))
		}
		matched++
		if keyword == "" && matched >= q.Offset+q.Limit {
			break // the total is known from the counters
		}
	}
	if keyword != "" {
		total = matched
	}
	rooms := make([]Room, 0, len(ids))
	for _, id := range ids {
		r, err := t.Room(id)
		if err != nil {
			return nil, 0, fmt.Errorf("list rooms: %w", err)
		}
		rooms = append(rooms, r)
	}
	return rooms, total, nil
}

// matchesCombo applies the State, Type and AccessLevel filters to an encoded combo.
func (q *RoomQuery) matchesCombo(combo []byte) bool {
	parts := bytes.SplitN(combo, []byte{0}, 4)
	if len(parts) < 3 {
		return false
	}
	return (q.State == "" || string(parts[0]) == q.State) &&
		(q.Type == "" || string(parts[1]) == q.Type) &&
		(q.AccessLevel == "" || string(parts[2]) == q.AccessLevel)
}

// listEntry is one room's key suffix set: its combo, modified order and title.
type listEntry struct {
	combo    []byte
	modified []byte // lastModified | roomID
	title    []byte
}

// entryOf returns r's list entry, or ok false when r is not listed.
func entryOf(r *Room) (e listEntry, ok bool) {
	if r.State != RoomActive {
		return e, false
	}
	e.combo = []byte(r.VideoRoomState + "\x00" + r.Type + "\x00" + r.AccessLevel + "\x00")
	e.modified = append(timeKey(r.LastModifiedAt), u64(r.ID)...)
	e.title = []byte(strings.ToLower(r.Title))
	return e, true
}

// timeKey encodes t so that byte order is time order: seconds since 1970 with the
// sign bit flipped, then nanoseconds (12 bytes).
func timeKey(t time.Time) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 12), uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(k, uint32(t.Nanosecond()))
}

// scopes returns the list scopes of a room: its app, and its owner if any.
func scopes(r *Room) [][]byte {
	s := [][]byte{pair(r.AppID, 0)}
	if r.MemberID != 0 {
		s = append(s, pair(r.AppID, r.MemberID))
	}
	return s
}

// relist moves a room's list entries from old (found: it was stored) to r.
func (t *Tx) relist(old Room, found bool, r *Room) error {
	oldE, oldOK := entryOf(&old)
	oldOK = oldOK && found
	newE, newOK := entryOf(r)
	// Entries are added at the end of their combo's range (the newest ID, "now" as
	// lastModified), so the pages fill like appends.
	created, modified := t.appendBucket(bucketRoomsListCreated), t.appendBucket(bucketRoomsListModified)
	counts := t.bucket(bucketRoomsListCount)
	if oldOK {
		for _, s := range scopes(&old) {
			p := append(bytes.Clone(s), oldE.combo...)
			if err := created.Delete(append(bytes.Clone(p), u64(old.ID)...)); err != nil {
				return err
			}
			if err := modified.Delete(append(bytes.Clone(p), oldE.modified...)); err != nil {
				return err
			}
			if err := addCount(counts, p, -1); err != nil {
				return err
			}
		}
	}
	if !newOK {
		return nil
	}
	for _, s := range scopes(r) {
		p := append(bytes.Clone(s), newE.combo...)
		if err := created.Put(append(bytes.Clone(p), u64(r.ID)...), newE.title); err != nil {
			return err
		}
		if err := modified.Put(append(bytes.Clone(p), newE.modified...), newE.title); err != nil {
			return err
		}
		if err := addCount(counts, p, 1); err != nil {
			return err
		}
	}
	return nil
}

// addCount adds d to the counter under key, deleting it at 0.
func addCount(b bucket, key []byte, d int) error {
	n := int64(btoi(b.Get(key))) + int64(d)
	if n <= 0 {
		return b.Delete(key)
	}
	return b.Put(key, u64(uint64(n)))
}

// merge walks several prefixes of one bucket as one sequence ordered by the key
// part after each prefix (all prefixes have the same length).
type merge struct {
	heads mergeHeap
}

type mergeHead struct {
	c      cursor
	prefix []byte
	k, v   []byte
}

type mergeHeap struct {
	h    []*mergeHead
	desc bool
}

func (m *mergeHeap) Len() int { return len(m.h) }
func (m *mergeHeap) Less(i, j int) bool {
	a, b := m.h[i].k[len(m.h[i].prefix):], m.h[j].k[len(m.h[j].prefix):]
	if m.desc {
		return bytes.Compare(a, b) > 0
	}
	return bytes.Compare(a, b) < 0
}
func (m *mergeHeap) Swap(i, j int) { m.h[i], m.h[j] = m.h[j], m.h[i] }
func (m *mergeHeap) Push(x any)    { m.h = append(m.h, x.(*mergeHead)) }
func (m *mergeHeap) Pop() any {
	x := m.h[len(m.h)-1]
	m.h = m.h[:len(m.h)-1]
	return x
}

func newMerge(b bucket, prefixes [][]byte, desc bool) *merge {
	m := &merge{heads: mergeHeap{desc: desc}}
	for _, p := range prefixes {
		h := &mergeHead{c: b.Cursor(), prefix: p}
		if desc {
			h.k = seekLast(h.c, p)
			h.v = currentValue(h.c, h.k)
		} else {
			h.k, h.v = h.c.Seek(p)
		}
		if h.k != nil && bytes.HasPrefix(h.k, p) {
			m.heads.h = append(m.heads.h, h)
		}
	}
	heap.Init(&m.heads)
	return m
}

// currentValue returns the value at the cursor's position (seekLast returns only
// the key).
func currentValue(c cursor, k []byte) []byte {
	if k == nil {
		return nil
	}
	_, v := c.Seek(k)
	return v
}

// next returns the next key and value, ok false at the end.
func (m *merge) next() (k, v []byte, ok bool) {
	if len(m.heads.h) == 0 {
		return nil, nil, false
	}
	h := m.heads.h[0]
	k, v = h.k, h.v
	if m.heads.desc {
		h.k, h.v = h.c.Prev()
	} else {
		h.k, h.v = h.c.Next()
	}
	if h.k == nil || !bytes.HasPrefix(h.k, h.prefix) {
		heap.Pop(&m.heads)
	} else {
		heap.Fix(&m.heads, 0)
	}
	return k, v, true
}
