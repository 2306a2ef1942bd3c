package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openCached opens a store in t.TempDir() with a read cache of n records per kind.
func openCached(t testing.TB, n int) *Store {
	t.Helper()
	s, err := testOpen(filepath.Join(t.TempDir(), "roomcast.db"), Options{NoSync: true, CacheRecords: n})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// cacheRoom is a room with every slice field set.
func cacheRoom(n int) Room {
	return Room{
		UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), AppID: 1, MemberID: 1, State: "ACTIVE",
		Title: "room " + strconv.Itoa(n), CustomData: []KeyValue{{Name: "k", Value: "v"}},
		PasswordHash: []byte{1, 2, 3}, WebhookEvents: []string{"video_room.live"},
		Sessions:  []Session{{No: 1, StartedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// pregrow grows the file and its mmap by 8 MiB and frees the space again: bbolt
// remaps a growing file only once every read transaction has ended, so tests that
// commit while holding a View open need the room in advance.
func pregrow(t testing.TB, s *Store) {
	t.Helper()
	if s.db == nil {
		return // etcd: no file to grow, no remapping
	}
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutMeta("pregrow", make([]byte, 8<<20)) })
	mustUpdate(t, s, func(tx *Tx) error { return tx.DeleteMeta("pregrow") })
}

// mustUpdate runs fn in an Update and fails the test on error.
func mustUpdate(t testing.TB, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// readRoom reads room id in its own View.
func readRoom(s *Store, id uint64) (Room, error) {
	var r Room
	err := s.View(func(tx *Tx) error {
		var err error
		r, err = tx.Room(id)
		return err
	})
	return r, err
}

// TestCacheHitAfterFill: the second read is a hit and equals the first.
func TestCacheHitAfterFill(t *testing.T) {
	parallelOnBbolt(t)
	s := openCached(t, 0)
	r := cacheRoom(1)
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&r) })
	settle(t, s)
	first, err := readRoom(s, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	hits := s.caches.hits.Load()
	second, err := readRoom(s, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.caches.hits.Load() != hits+1 {
		t.Fatalf("second read was not a cache hit")
	}
	if !reflect.DeepEqual(first, second) || !reflect.DeepEqual(first, r) {
		t.Fatalf("cached room differs:\n%+v\n%+v", first, second)
	}
}

// TestCacheCopies: a caller modifying a returned record (slices included) does
// not change what the next reader gets.
func TestCacheCopies(t *testing.T) {
	t.Parallel()
	s := openCached(t, 0)
	r := cacheRoom(1)
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&r) })
	for range 2 { // fill, then hit
		got, err := readRoom(s, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		got.Title = "changed"
		got.CustomData[0].Value = "changed"
		got.PasswordHash[0] = 9
		got.WebhookEvents[0] = "changed"
		got.Sessions[0].No = 9
	}
	got, err := readRoom(s, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("cache was modified through a returned record:\n%+v\nwant %+v", got, r)
	}
}

// TestCloneSharesNothing fills every slice of each cached record type through
// reflection and checks that the clone function copies all of them: a slice field
// added to a record without updating its clone fails here.
func TestCloneSharesNothing(t *testing.T) {
	t.Parallel()
	check := func(name string, v any, clone func(any) any) {
		orig := reflect.ValueOf(v).Elem()
		fillSlices(orig)
		cp := reflect.ValueOf(clone(orig.Interface()))
		for i := range orig.NumField() {
			f := orig.Field(i)
			if f.Kind() == reflect.Slice && f.Len() > 0 && f.Pointer() == cp.Field(i).Pointer() {
				t.Errorf("%s.%s is shared by the clone", name, orig.Type().Field(i).Name)
			}
		}
	}
	none := func(v any) any { return v }
	check("Room", &Room{}, func(v any) any { return cloneRoom(v.(Room)) })
	check("App", &App{}, func(v any) any { return cloneApp(v.(App)) })
	check("Member", &Member{}, none)
	check("StreamKey", &StreamKey{}, none)
	check("ChatRoom", &ChatRoom{}, none)
}

// fillSlices gives every slice field of struct v one element.
func fillSlices(v reflect.Value) {
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice {
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		}
	}
}

// TestCacheRollbackDoesNotPollute: a write that rolls back is never seen, and
// fills resume after it.
func TestCacheRollbackDoesNotPollute(t *testing.T) {
	parallelOnBbolt(t)
	s := openCached(t, 0)
	r := cacheRoom(1)
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&r) })
	settle(t, s)
	if _, err := readRoom(s, r.ID); err != nil { // fill
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		changed := r
		changed.Title = "rolled back"
		if err := tx.PutRoom(&changed); err != nil {
			return err
		}
		got, err := tx.Room(r.ID) // the write transaction sees its own write
		if err != nil || got.Title != "rolled back" {
			t.Errorf("write tx read %q, %v", got.Title, err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("update: %v", err)
	}
	got, err := readRoom(s, r.ID)
	if err != nil || got.Title != r.Title {
		t.Fatalf("after rollback: %q, %v", got.Title, err)
	}
	hits := s.caches.hits.Load()
	if _, err := readRoom(s, r.ID); err != nil {
		t.Fatal(err)
	}
	if s.caches.hits.Load() != hits+1 {
		t.Fatalf("no cache hit after a rollback: fills did not resume")
	}
}

// TestCacheCommitVisible: a View that starts after Update returned sees the
// committed value, including for records that were cached as absent.
func TestCacheCommitVisible(t *testing.T) {
	t.Parallel()
	s := openCached(t, 0)
	r := cacheRoom(1)
	for range 2 { // absent, cached absent
		if _, err := readRoom(s, 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("before insert: %v", err)
		}
	}
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&r) })
	for i := range 3 {
		got, err := readRoom(s, r.ID)
		if err != nil || got.Title != r.Title {
			t.Fatalf("read %d after insert: %+v, %v", i, got, err)
		}
		r.Title = "title " + strconv.Itoa(i)
		mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&r) })
	}
	for range 2 {
		err := s.View(func(tx *Tx) error {
			_, err := tx.ChatRoom(r.ID)
			return err
		})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("chat room before create: %v", err)
		}
	}
	mustUpdate(t, s, func(tx *Tx) error { return tx.CreateChatRoom(&ChatRoom{RoomID: r.ID, ChannelKey: "ck"}) })
	err := s.View(func(tx *Tx) error {
		c, err := tx.ChatRoom(r.ID)
		if err == nil && c.ChannelKey != "ck" {
			err = fmt.Errorf("channel key %q", c.ChannelKey)
		}
		return err
	})
	if err != nil {
		t.Fatalf("chat room after create: %v", err)
	}
}

// TestCacheSnapshotIsolation: a View that began before a commit keeps reading its
// own snapshot, even after a newer View cached the new value.
func TestCacheSnapshotIsolation(t *testing.T) {
	t.Parallel()
	s := openCached(t, 0)
	pregrow(t, s)
	r := cacheRoom(1)
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&r) })
	if _, err := readRoom(s, r.ID); err != nil {
		t.Fatal(err)
	}
	began, done := make(chan struct{}), make(chan struct{})
	result := make(chan Room, 1)
	errs := make(chan error, 1)
	go func() {
		errs <- s.View(func(tx *Tx) error {
			close(began)
			<-done
			old, err := tx.Room(r.ID)
			result <- old
			return err
		})
	}()
	<-began
	updated := r
	updated.Title = "new"
	// bbolt lets an Update commit while an older View is open.
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&updated) })
	for i := range 2 { // fill from the new snapshot, then hit
		if got, err := readRoom(s, r.ID); err != nil || got.Title != "new" {
			t.Fatalf("new view %d: %q, %v", i, got.Title, err)
		}
	}
	close(done)
	select {
	case err := <-errs:
		old := <-result
		if err != nil || old.Title != r.Title {
			t.Fatalf("old view read %q, %v; want its snapshot's %q", old.Title, err, r.Title)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("old view did not finish")
	}
}

// TestCacheBounded: the cache never holds more than CacheRecords entries per kind
// and evicted records read back correctly.
func TestCacheBounded(t *testing.T) {
	t.Parallel()
	const size = 8
	s := openCached(t, size)
	var rooms []Room
	for i := range 50 {
		r := cacheRoom(i)
		mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&r) })
		rooms = append(rooms, r)
	}
	for pass := range 3 {
		for i, want := range rooms {
			if i%5 == 0 && pass > 0 {
				continue
			}
			got, err := readRoom(s, want.ID)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("pass %d room %d: %+v, %v", pass, want.ID, got, err)
			}
			if n := s.caches.rooms.len(); n > size {
				t.Fatalf("%d cached rooms, bound %d", n, size)
			}
		}
	}
}

// TestCacheDisabled: CacheRecords < 0 reads through bbolt only.
func TestCacheDisabled(t *testing.T) {
	t.Parallel()
	s := openCached(t, -1)
	r := cacheRoom(1)
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&r) })
	for range 2 {
		if got, err := readRoom(s, r.ID); err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("read: %+v, %v", got, err)
		}
	}
	if s.caches != nil {
		t.Fatal("cache not disabled")
	}
}

// TestCacheConcurrentMonotonic runs one writer (commits and rollbacks) against
// readers (meaningful with -race). Each reader checks that a View begun after a
// commit returned sees at least that commit, that its own reads never go back,
// and that cached reads equal bbolt's in the same transaction.
func TestCacheConcurrentMonotonic(t *testing.T) {
	parallelOnBbolt(t)
	s := openCached(t, 4)
	r := cacheRoom(1)
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutRoom(&r) })
	var committed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() { errs <- monotonicReader(s, r.ID, &committed, stop) })
	}
	errBoom := errors.New("rolled back")
	for i := 1; i <= 300; i++ {
		w := r
		w.Title = strconv.Itoa(i)
		err := s.Update(func(tx *Tx) error {
			if err := tx.PutRoom(&w); err != nil {
				return err
			}
			if i%3 == 0 {
				return errBoom // never visible: the readers would see i > committed+1 later
			}
			return nil
		})
		switch {
		case i%3 == 0 && errors.Is(err, errBoom):
		case err != nil:
			t.Fatal(err)
		default:
			committed.Store(int64(i))
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Whether the readers hit the cache while writes went on depends on the
	// scheduling; once writes stop (and an etcd watch has caught up), a read after
	// a read must.
	settle(t, s)
	for range 2 {
		if err := s.View(func(tx *Tx) error { _, err := tx.Room(r.ID); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if hits := s.caches.hits.Load(); hits == 0 {
		t.Fatal("a read after a read, with no write between, missed the cache")
	}
}

// monotonicReader reads room id until stop (see TestCacheConcurrentMonotonic).
func monotonicReader(s *Store, id uint64, committed *atomic.Int64, stop <-chan struct{}) error {
	last := int64(-1)
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		floor := committed.Load()
		err := s.View(func(tx *Tx) error {
			got, err := tx.Room(id)
			if err != nil {
				return err
			}
			if err := sameAsBBolt(tx, roomKind, id, got, nil); err != nil {
				return err
			}
			n, _ := strconv.ParseInt(got.Title, 10, 64) // "room 1" (initial) parses as 0
			switch {
			case n%3 == 0 && n != 0:
				return fmt.Errorf("saw rolled-back title %d", n)
			case n < floor:
				return fmt.Errorf("saw %d after %d committed", n, floor)
			case n < last:
				return fmt.Errorf("saw %d after %d", n, last)
			}
			last = n
			return nil
		})
		if err != nil {
			return err
		}
	}
}

// sameAsBBolt compares a cached lookup's result with a decode from t's own
// snapshot.
func sameAsBBolt[T any](tx *Tx, k recordKind[T], id uint64, got T, gotErr error) error {
	var want T
	wantErr := getJSON(tx.bucket(k.bucket), id, &want, k.name)
	if errors.Is(gotErr, ErrNotFound) != errors.Is(wantErr, ErrNotFound) || (gotErr == nil) != (wantErr == nil) {
		return fmt.Errorf("%s %d: cached error %v, bbolt %v", k.name, id, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		return fmt.Errorf("%s %d (tx %d): cached %+v, bbolt %+v", k.name, id, tx.tx.Snapshot(), got, want)
	}
	return nil
}

// TestCacheProperty runs random sequences of writes (committed or rolled back),
// reads and long-lived Views over a few IDs of every cached kind with a tiny cache
// (evictions), and checks every cached lookup against bbolt's decode in the same
// transaction, and fresh Views against a model of the committed state.
func TestCacheProperty(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			runCacheProperty(t, seed, 400)
		})
	}
}

// propModel is the committed state of the property test: record title per ID.
type propModel struct{ rooms, members map[uint64]string }

// runCacheProperty is one random sequence of TestCacheProperty.
func runCacheProperty(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	s := openCached(t, 3)
	pregrow(t, s)
	const ids, maxHeld, maxAge = 6, 3, 40
	model := propModel{rooms: map[uint64]string{}, members: map[uint64]string{}}
	var held []*heldView
	defer func() {
		for _, h := range held {
			h.finish()
		}
	}()
	for step := range steps {
		id := 1 + rng.Uint64N(ids)
		commit := rng.IntN(4) != 0
		var err error
		switch op := rng.IntN(10); op {
		case 0, 1:
			err = propPut(s, commit, func(tx *Tx) (string, error) {
				r := cacheRoom(int(id))
				r.ID, r.Title = id, fmt.Sprintf("r%d-%d", id, step)
				if rng.IntN(2) == 0 {
					r.CustomData, r.Sessions = nil, []Session{}
				}
				return r.Title, tx.PutRoom(&r)
			}, model.rooms, id)
		case 2:
			err = propPut(s, commit, func(tx *Tx) (string, error) {
				m := Member{ID: id, AppID: 1, AppUserID: "u" + strconv.FormatUint(id, 10),
					AppUserName: fmt.Sprintf("m%d-%d", id, step)}
				return m.AppUserName, tx.PutMember(&m)
			}, model.members, id)
		case 3:
			err = propWriteOthers(s, rng, id, step, commit)
		case 4:
			if len(held) < maxHeld {
				held = append(held, holdView(s, step))
			}
		case 5:
			if len(held) > 0 {
				i := rng.IntN(len(held))
				if err := held[i].check(id); err != nil {
					t.Fatalf("step %d: held view: %v", step, err)
				}
				if rng.IntN(2) == 0 {
					held[i].finish()
					held = append(held[:i], held[i+1:]...)
				}
			}
		default:
			err = s.View(func(tx *Tx) error { return checkAll(tx, id, &model) })
		}
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if len(held) > 0 && step-held[0].step > maxAge { // old pages stay pinned while held
			held[0].finish()
			held = held[1:]
		}
	}
}

// propPut runs put in an Update that commits or rolls back and records a commit
// in model.
func propPut(s *Store, commit bool, put func(*Tx) (string, error), model map[uint64]string, id uint64) error {
	errRollback := errors.New("rollback")
	var title string
	err := s.Update(func(tx *Tx) error {
		var err error
		if title, err = put(tx); err != nil {
			return err
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	switch {
	case !commit && errors.Is(err, errRollback):
		return nil
	case err != nil:
		return err
	}
	model[id] = title
	return nil
}

// propWriteOthers writes an app, a stream key or a chat room (not modelled: checked
// against bbolt only).
func propWriteOthers(s *Store, rng *rand.Rand, id uint64, step int, commit bool) error {
	errRollback := errors.New("rollback")
	which := rng.IntN(3)
	err := s.Update(func(tx *Tx) error {
		var err error
		switch which {
		case 0:
			a := App{ID: id, Name: fmt.Sprintf("a%d", step), APIKey: "k" + strconv.FormatUint(id, 10),
				APISecretHash: []byte{byte(step)}, CallbackEvents: []string{"x"}}
			err = tx.PutApp(&a)
		case 1:
			k := StreamKey{ID: id, AppID: 1, Secret: "s" + strconv.FormatUint(id, 10), PublishSeq: uint64(step)}
			err = tx.PutStreamKey(&k)
		default:
			if _, err = tx.ChatRoom(id); errors.Is(err, ErrNotFound) {
				err = tx.CreateChatRoom(&ChatRoom{RoomID: id, ChannelKey: fmt.Sprintf("c%d", step)})
			} else if err == nil {
				_, err = tx.SetChatRoomClosed(id, time.Unix(int64(step), 0))
			}
		}
		if err == nil && !commit {
			err = errRollback
		}
		return err
	})
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}

// checkAll reads id of every kind through the cache, twice (fill, hit), and
// compares with bbolt and, for rooms and members, with the committed model.
func checkAll(tx *Tx, id uint64, model *propModel) error {
	for range 2 {
		r, err := tx.Room(id)
		if err := sameAsBBolt(tx, roomKind, id, r, err); err != nil {
			return err
		}
		if want, ok := model.rooms[id]; ok != (err == nil) || r.Title != want {
			return fmt.Errorf("room %d: %q (%v), model %q", id, r.Title, err, want)
		}
		m, err := getCached(tx, memberKind, id)
		if err := sameAsBBolt(tx, memberKind, id, m, err); err != nil {
			return err
		}
		if want, ok := model.members[id]; ok != (err == nil) || m.AppUserName != want {
			return fmt.Errorf("member %d: %q (%v), model %q", id, m.AppUserName, err, want)
		}
		if err := checkUnmodelled(tx, id); err != nil {
			return err
		}
	}
	return nil
}

// checkUnmodelled compares the cached app, stream key and chat room with bbolt.
func checkUnmodelled(tx *Tx, id uint64) error {
	a, err := tx.App(id)
	if err := sameAsBBolt(tx, appKind, id, a, err); err != nil {
		return err
	}
	k, err := tx.StreamKey(id)
	if err := sameAsBBolt(tx, keyKind, id, k, err); err != nil {
		return err
	}
	c, err := tx.ChatRoom(id)
	return sameAsBBolt(tx, chatRoomKind, id, c, err)
}

// heldView is a View kept open across later writes (an old snapshot).
type heldView struct {
	step int // when it was opened
	req  chan uint64
	resp chan error
	done chan struct{}
}

// holdView opens a View in its own goroutine; check reads in it, finish ends it.
func holdView(s *Store, step int) *heldView {
	h := &heldView{step: step, req: make(chan uint64), resp: make(chan error), done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(h.done)
		_ = s.View(func(tx *Tx) error {
			close(ready)
			for id := range h.req {
				var err error
				for range 2 {
					if r, rerr := tx.Room(id); err == nil {
						err = sameAsBBolt(tx, roomKind, id, r, rerr)
					}
					if err == nil {
						err = checkUnmodelled(tx, id)
					}
				}
				h.resp <- err
			}
			return nil
		})
	}()
	<-ready
	return h
}

// check compares cached and bbolt reads of id inside the held View.
func (h *heldView) check(id uint64) error {
	h.req <- id
	return <-h.resp
}

// finish ends the held View and waits for its goroutine.
func (h *heldView) finish() {
	close(h.req)
	<-h.done
}
