// Package upload copies the packager's session files to an object store as they
// are closed, so that a recording outlives the disk of the node that ingested it.
//
// What is stored, under the same names as on disk ({room}/{session}/…):
//   - every init file and every complete segment file, as soon as the index record
//     naming it is written (the segmenter writes and fsyncs the files, then the
//     record: an indexed file is whole);
//   - after the files a record names, the index bytes themselves, as a piece
//     "index.{offset}.jsonl" (packager/vod joins the pieces), so the stored part of
//     a session is readable even if its node dies for good;
//   - when the session has ended: any file the index does not list (the segment a
//     crash cut, which the archiver recovers), then the whole index.jsonl, which
//     marks the session complete; the pieces are then deleted.
//
// The work queue holds sessions, not files: a session is queued once however many
// records it gains meanwhile, and a pass uploads everything its index lists past
// what is stored. Memory stays bounded by the number of sessions on disk whatever
// the backlog; the backlog itself is the local files, which stay until the archive
// is stored. A failed upload retries the session with exponential backoff (250 ms
// doubling to 30 s, with jitter) for as long as it takes. The progress of each
// session is kept in a small state file ".upload" in its directory, so a restart
// resumes where it stopped (at worst re-uploading one pass, which overwrites with
// identical bytes); at boot every session directory not marked complete is queued
// as ended (the process that wrote it is gone).
//
// Ownership: the packager builds, starts and closes the Uploader; Written and Ended
// are called by the session's segmenter goroutine; workers are owned by the
// Uploader and stopped by Close.
package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/objstore"
	"github.com/roomcast/roomcast/packager/timeline"
)

// Objects is what the uploader needs of an object store (objstore.Client).
type Objects interface {
	PutFile(ctx context.Context, key, path string) (int64, error)
	PutBytes(ctx context.Context, key string, b []byte, contentType string) error
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string, recursive bool) ([]objstore.ObjectInfo, error)
}

// stateFile is the per-session progress file (a dot file: never uploaded).
const stateFile = ".upload"

const (
	retryMin = 250 * time.Millisecond
	retryMax = 30 * time.Second
	// putTimeout bounds one object upload.
	putTimeout = 2 * time.Minute
)

// Uploader uploads session files to Objects. Set the exported fields, call
// Initialize, Close at shutdown.
type Uploader struct {
	// Dir is the packager's media directory.
	Dir string
	// Objects is the object store.
	Objects Objects
	// Log receives the uploader's logs (default: discard).
	Log *slog.Logger
	// Workers is the number of sessions uploaded concurrently (default 8).
	Workers int
	// Registerer receives the upload metrics. Optional.
	Registerer prometheus.Registerer
	// Prepare, when set, runs before the first upload until it succeeds (a
	// failure is a failed pass, retried): it creates the bucket when the store
	// was unreachable at start.
	Prepare func(ctx context.Context) error

	prepared atomic.Bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	m      *metrics

	mu       sync.Mutex
	sessions map[string]*session // by "{room}/{n}"
	queue    []string            // sessions ready for a pass, each at most once
	wake     chan struct{}
	changed  chan struct{} // closed and replaced when a session completes or is forgotten
	gone     map[string]time.Time
}

// session is the upload state of one session directory.
type session struct {
	key      string // "{room}/{n}"
	state    progress
	ended    bool
	queued   bool
	running  bool
	dirty    bool      // written since the running pass read the index
	since    time.Time // oldest write not yet stored (zero: none)
	failures int
	retry    *time.Timer
}

// progress is what the state file keeps.
type progress struct {
	// Offset is how many bytes of index.jsonl are stored (as pieces), with every
	// file they name.
	Offset int64 `json:"offset"`
	// Stored are the files stored since the last piece (a pass cut short).
	Stored []string `json:"stored,omitempty"`
	// Complete: index.jsonl is stored whole; nothing is left to do.
	Complete bool `json:"complete,omitempty"`
}

// Initialize starts the workers and queues the sessions on disk that are not
// complete.
func (u *Uploader) Initialize() error {
	if u.Dir == "" || u.Objects == nil {
		return errors.New("upload: Dir and Objects are required")
	}
	if u.Log == nil {
		u.Log = slog.New(slog.DiscardHandler)
	}
	if u.Workers <= 0 {
		u.Workers = 8
	}
	m, err := newMetrics(u.Registerer)
	if err != nil {
		return err
	}
	u.m = m
	u.sessions = map[string]*session{}
	u.gone = map[string]time.Time{}
	u.wake = make(chan struct{}, 1)
	u.changed = make(chan struct{})
	u.ctx, u.cancel = context.WithCancel(context.Background())
	if err := u.scan(); err != nil {
		u.m.unregister(u.Registerer)
		return err
	}
	for range u.Workers {
		u.wg.Add(1)
		go u.runWorker()
	}
	u.wg.Add(1)
	go u.runGauges()
	return nil
}

// Close stops the workers (an upload in progress is abandoned; the next start
// resumes from the state files).
func (u *Uploader) Close() {
	if u.cancel == nil {
		return
	}
	u.cancel()
	u.wg.Wait()
	u.mu.Lock()
	for _, s := range u.sessions {
		if s.retry != nil {
			s.retry.Stop()
		}
	}
	u.mu.Unlock()
	u.m.unregister(u.Registerer)
}

// scan queues every session directory on disk that is not complete, as ended.
func (u *Uploader) scan() error {
	rooms, err := os.ReadDir(u.Dir)
	if err != nil {
		return fmt.Errorf("upload: scan media dir: %w", err)
	}
	for _, r := range rooms {
		if !r.IsDir() || !timeline.ValidRoomUUID(r.Name()) {
			continue
		}
		nos, err := os.ReadDir(filepath.Join(u.Dir, r.Name()))
		if err != nil {
			continue
		}
		for _, n := range nos {
			if no, err := strconv.Atoi(n.Name()); err != nil || no <= 0 || !n.IsDir() {
				continue
			}
			key := r.Name() + "/" + n.Name()
			st, err := u.readState(key)
			if err != nil {
				u.Log.Warn("upload: unreadable state, uploading the session again", "session", key, "error", err)
			}
			if st.Complete {
				continue
			}
			s := &session{key: key, state: st, ended: true, since: time.Now()}
			u.sessions[key] = s
			u.enqueueLocked(s)
		}
	}
	if n := len(u.queue); n > 0 {
		u.Log.Info("upload: resuming sessions not yet stored", "sessions", n)
	}
	return nil
}

// Written tells that the index of the session in {Dir}/{key} gained records
// (synced, with the files they name).
func (u *Uploader) Written(key string) { u.touch(key, false) }

// Ended tells that the session in {Dir}/{key} will not be written any more.
func (u *Uploader) Ended(key string) { u.touch(key, true) }

func (u *Uploader) touch(key string, ended bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sessions == nil {
		return
	}
	if _, ok := u.gone[roomOf(key)]; ok {
		return
	}
	s := u.sessions[key]
	if s == nil {
		s = &session{key: key}
		u.sessions[key] = s
	}
	if s.state.Complete {
		return
	}
	if s.since.IsZero() {
		s.since = time.Now()
	}
	s.ended = s.ended || ended
	if s.running {
		s.dirty = true
		return
	}
	if s.retry == nil {
		u.enqueueLocked(s)
	}
}

// enqueueLocked queues s for a pass (once).
func (u *Uploader) enqueueLocked(s *session) {
	if s.queued || s.running {
		return
	}
	s.queued = true
	u.queue = append(u.queue, s.key)
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Forget drops the sessions of a room whose media is being deleted: nothing of it
// is uploaded any more (an upload in progress ends with its pass).
func (u *Uploader) Forget(room string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sessions == nil {
		return
	}
	now := time.Now()
	u.gone[room] = now
	for k, t := range u.gone {
		if now.Sub(t) > time.Hour {
			delete(u.gone, k)
		}
	}
	for key, s := range u.sessions {
		if roomOf(key) == room {
			if s.retry != nil {
				s.retry.Stop()
			}
			delete(u.sessions, key)
		}
	}
	u.notifyLocked()
}

// RoomStored reports whether no session of the room is left to upload (every
// session on disk is stored complete).
func (u *Uploader) RoomStored(room string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for key := range u.sessions {
		if roomOf(key) == room {
			return false
		}
	}
	return true
}

// WaitRoom blocks until every session of the room known to the uploader is
// stored complete (or forgotten), or ctx ends.
func (u *Uploader) WaitRoom(ctx context.Context, room string) error {
	for {
		u.mu.Lock()
		var pending []string
		for key, s := range u.sessions {
			if roomOf(key) == room && !s.state.Complete {
				pending = append(pending, key)
			}
		}
		ch := u.changed
		u.mu.Unlock()
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("upload: sessions %v not stored yet: %w", pending, ctx.Err())
		}
	}
}

func (u *Uploader) notifyLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
}

func roomOf(key string) string {
	room, _, _ := strings.Cut(key, "/")
	return room
}

func (u *Uploader) runWorker() {
	defer u.wg.Done()
	for {
		key, ok := u.next()
		if !ok {
			return
		}
		u.pass(key)
	}
}

// next waits for a queued session and marks it running.
func (u *Uploader) next() (string, bool) {
	for {
		u.mu.Lock()
		for len(u.queue) > 0 {
			key := u.queue[0]
			u.queue = u.queue[1:]
			s := u.sessions[key]
			if s == nil {
				continue // forgotten
			}
			s.queued, s.running, s.dirty = false, true, false
			if len(u.queue) > 0 {
				// more work: wake another worker (one token wakes one worker)
				select {
				case u.wake <- struct{}{}:
				default:
				}
			}
			u.mu.Unlock()
			return key, true
		}
		u.mu.Unlock()
		select {
		case <-u.ctx.Done():
			return "", false
		case <-u.wake:
		}
	}
}

// pass uploads what the session's index lists past what is stored; for an ended
// session with nothing left, it completes the session.
func (u *Uploader) pass(key string) {
	u.mu.Lock()
	s := u.sessions[key]
	if s == nil {
		u.mu.Unlock()
		return
	}
	st, ended, since := s.state, s.ended, s.since
	u.mu.Unlock()
	st.Stored = slices.Clone(st.Stored) // the pass appends to its own copy

	err := u.upload(key, &st, ended)
	u.mu.Lock()
	defer u.mu.Unlock()
	s = u.sessions[key]
	if s == nil {
		return // forgotten meanwhile
	}
	s.running = false
	s.state = st
	if err != nil {
		if u.ctx.Err() != nil {
			return
		}
		if _, serr := os.Stat(filepath.Join(u.Dir, filepath.FromSlash(key))); errors.Is(serr, fs.ErrNotExist) {
			// the session directory went (room deleted)
			u.Log.Info("upload: session files gone, not uploaded", "session", key, "error", err)
			delete(u.sessions, key)
			u.notifyLocked()
			return
		}
		s.failures++
		u.m.failures.Inc()
		d := backoff(s.failures)
		if s.failures == 1 || s.failures%10 == 0 {
			u.Log.Warn("upload: failed, retrying", "session", key, "attempt", s.failures, "retryIn", d.Round(time.Millisecond), "error", err)
		}
		s.retry = time.AfterFunc(d, func() {
			u.mu.Lock()
			defer u.mu.Unlock()
			if u.sessions[key] == s {
				s.retry = nil
				u.enqueueLocked(s)
			}
		})
		return
	}
	if s.failures > 0 {
		u.Log.Info("upload: resumed", "session", key, "afterAttempts", s.failures)
	}
	s.failures = 0
	// the store answers again: the sessions waiting out a backoff go now
	for _, o := range u.sessions {
		if o.retry != nil && o.retry.Stop() {
			o.retry = nil
			u.enqueueLocked(o)
		}
	}
	if !since.IsZero() {
		u.m.lag.Observe(time.Since(since).Seconds())
	}
	if st.Complete {
		delete(u.sessions, key)
		u.notifyLocked()
		return
	}
	if s.dirty || (s.ended && !ended) {
		s.since = time.Now()
		u.enqueueLocked(s)
		return
	}
	s.since = time.Time{}
}

// upload stores the files and index records of the session past st.Offset; with
// ended, it then completes the session. st is updated as objects are stored.
func (u *Uploader) upload(key string, st *progress, ended bool) error {
	if u.Prepare != nil && !u.prepared.Load() {
		ctx, cancel := context.WithTimeout(u.ctx, putTimeout)
		err := u.Prepare(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("prepare the object store: %w", err)
		}
		u.prepared.Store(true)
	}
	dir := filepath.Join(u.Dir, filepath.FromSlash(key))
	b, err := readFrom(filepath.Join(dir, timeline.IndexFile), st.Offset)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr == nil {
			// a session directory without an index (damaged): nothing in it is
			// archivable, here or from the store
			u.Log.Warn("upload: session without an index, not uploaded", "session", key)
			st.Complete = true
			u.saveState(dir, st)
			return nil
		}
	}
	if err != nil {
		return err
	}
	// only whole lines: the segmenter may be appending the next record
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	if len(b) > 0 {
		for _, name := range namedFiles(b) {
			if err := u.putFile(key, dir, name, st); err != nil {
				return err
			}
		}
		if err := u.put(key+"/"+timeline.IndexPieceName(st.Offset), b); err != nil {
			return err
		}
		st.Offset += int64(len(b))
		st.Stored = nil
		u.saveState(dir, st)
	}
	if !ended {
		return nil
	}
	return u.complete(key, dir, st)
}

// complete stores the files the index does not list, then index.jsonl, and
// deletes the index pieces.
func (u *Uploader) complete(key, dir string, st *progress) error {
	idx, err := os.ReadFile(filepath.Join(dir, timeline.IndexFile))
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	listed := map[string]bool{}
	for _, name := range namedFiles(idx) {
		listed[name] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list session: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || listed[name] ||
			name == timeline.IndexFile || strings.HasSuffix(name, ".tmp") {
			continue
		}
		if err := u.putFile(key, dir, name, st); err != nil {
			return err
		}
	}
	if err := u.put(key+"/"+timeline.IndexFile, idx); err != nil {
		return err
	}
	st.Complete = true
	u.saveState(dir, st)
	// the pieces are superseded (a reader prefers index.jsonl): deleting them
	// only tidies the bucket
	ctx, cancel := context.WithTimeout(u.ctx, putTimeout)
	defer cancel()
	infos, err := u.Objects.List(ctx, key+"/", false)
	if err != nil {
		u.Log.Debug("upload: list index pieces", "session", key, "error", err)
	}
	for _, in := range infos {
		if _, ok := timeline.ParseIndexPiece(path.Base(in.Key)); ok {
			if err := u.Objects.Delete(ctx, in.Key); err != nil {
				u.Log.Debug("upload: delete index piece", "session", key, "error", err)
			}
		}
	}
	return nil
}

// putFile stores {dir}/{name} as {key}/{name} unless it is stored already.
func (u *Uploader) putFile(key, dir, name string, st *progress) error {
	if slices.Contains(st.Stored, name) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
		// listed but gone (a damaged session): the archive skips it too
		u.Log.Warn("upload: file listed by the index is missing", "session", key, "file", name)
		return nil
	}
	ctx, cancel := context.WithTimeout(u.ctx, putTimeout)
	n, err := u.Objects.PutFile(ctx, key+"/"+name, filepath.Join(dir, name))
	cancel()
	if err != nil {
		return fmt.Errorf("store %s: %w", name, err)
	}
	u.m.objects.Inc()
	u.m.bytes.Add(float64(n))
	st.Stored = append(st.Stored, name)
	return nil
}

// put stores b as key.
func (u *Uploader) put(key string, b []byte) error {
	ctx, cancel := context.WithTimeout(u.ctx, putTimeout)
	err := u.Objects.PutBytes(ctx, key, b, "application/jsonl")
	cancel()
	if err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	u.m.objects.Inc()
	u.m.bytes.Add(float64(len(b)))
	return nil
}

// readFrom reads path from offset off to its end.
func readFrom(path string, off int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat index: %w", err)
	}
	if fi.Size() <= off {
		return nil, nil
	}
	b := make([]byte, fi.Size()-off)
	n, err := f.ReadAt(b, off)
	if err != nil && n < len(b) {
		return nil, fmt.Errorf("read index: %w", err)
	}
	return b, nil
}

// namedFiles returns the files named by the index records in b, in order: the
// init files of versions, the segment files (tracks with data) of segments.
func namedFiles(b []byte) []string {
	idx, err := timeline.ParseIndex(bytes.NewReader(b), "")
	if err != nil {
		return nil
	}
	var names []string
	for _, v := range idx.Versions {
		for _, t := range v.Tracks {
			if timeline.ValidFileName(t.Init) {
				names = append(names, t.Init)
			}
		}
	}
	for _, seg := range idx.Segments {
		for _, t := range seg.Tracks {
			if t.Size > 0 && timeline.ValidFileName(t.File) {
				names = append(names, t.File)
			}
		}
	}
	return names
}

// readState reads the session's state file (a missing one is a fresh start).
func (u *Uploader) readState(key string) (progress, error) {
	var st progress
	b, err := os.ReadFile(filepath.Join(u.Dir, filepath.FromSlash(key), stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return progress{}, err
	}
	return st, nil
}

// saveState writes the state file in place: no truncation and no rename (on
// ext4 either makes the next write wait for the data to reach the disk, which
// cost more than the uploads themselves), padded with spaces over a longer
// previous content (JSON ignores them). Not synced: a torn or lost state file
// costs a re-upload, never data.
func (u *Uploader) saveState(dir string, st *progress) {
	b, err := json.Marshal(st)
	if err == nil {
		var f *os.File
		f, err = os.OpenFile(filepath.Join(dir, stateFile), os.O_WRONLY|os.O_CREATE, 0o644)
		if err == nil {
			var fi os.FileInfo
			if fi, err = f.Stat(); err == nil && fi.Size() > int64(len(b)) {
				b = append(b, bytes.Repeat([]byte{' '}, int(fi.Size())-len(b))...)
			}
			if err == nil {
				_, err = f.WriteAt(b, 0)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		u.Log.Warn("upload: save progress", "dir", dir, "error", err)
	}
}

// backoff returns the delay before attempt n+1: 250 ms doubling to 30 s, ±25 %.
func backoff(n int) time.Duration {
	d := retryMin
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	d = min(d, retryMax)
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}
