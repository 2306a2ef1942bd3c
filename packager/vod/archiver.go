package vod

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/packager/timeline"
)

const (
	// writtenWait bounds how long an archive job waits for the room's sessions
	// to be written to the end.
	writtenWait = 30 * time.Second
	// usageEvery is the period of the disk usage scan (and retention check).
	usageEvery = time.Minute
	// storedWait is how long an archive job waits for uploads in one try (it
	// tries again until they are done).
	storedWait = time.Minute
	// maxCached bounds the manifests and MP4 layouts kept in memory.
	maxCached = 16
)

// Archiver turns the live sessions of ended rooms into VODs (nothing re-encoded
// or copied: a manifest over the live segment files, saved as
// {Dir}/{roomUuid}/vod.json) and opens their files for the packager's playback
// handler. The packager builds it and owns it: set the exported fields, call
// Initialize, and Close at shutdown.
type Archiver struct {
	// Dir is the media directory (<data>/media), the packager's Dir.
	Dir string
	// Log receives the archiver's logs (default: discard).
	Log *slog.Logger
	// WaitWritten blocks until no session of the room is being written any more
	// (every stream of the room ended and flushed its last segment), or until ctx
	// ends (then it returns an error). An archive job calls it first, with a
	// deadline of 30 s (past it, what is on disk is archived). Optional.
	WaitWritten func(ctx context.Context, roomUUID string) error
	// Finished records the outcome of an archive job (nil error: ARCHIVED, else
	// FAILED_ARCHIVING). Required.
	Finished func(ctx context.Context, roomUUID string, archiveErr error) error
	// Expired records that retention deleted a VOD (vodUrl cleared); an error
	// keeps the media until the next scan. Optional.
	Expired func(ctx context.Context, roomUUID string) error
	// Objects, when set, is where archives are kept (an object store): an archive
	// job waits for WaitStored, builds the manifest from the sessions stored
	// there, saves it there and removes the room's local files; VODs are served
	// from it (by any node) and retention and deletion remove its objects. Nil:
	// archives are the local files in Dir.
	Objects Store
	// WaitStored blocks until every session of the room is in Objects (this
	// node's uploads done; other nodes' sessions stored or their node gone), or
	// ctx ends. Used with Objects; an error postpones the archive job (retried).
	WaitStored func(ctx context.Context, roomUUID string) error
	// LocalStored reports whether every local session of the room is stored
	// complete in Objects (nothing left to upload). With it, the janitor removes
	// the local files of rooms archived in Objects by any node (this node's
	// sessions of a room whose last session another node held). Optional.
	LocalStored func(roomUUID string) bool
	// Retention deletes VOD media this long after archiving (0 = keep forever).
	Retention time.Duration
	// Workers is the number of concurrent archive jobs (default 2).
	Workers int
	// Registerer receives the per-room disk usage gauge
	// roomcast_media_room_bytes{room}. Optional.
	Registerer prometheus.Registerer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	usage  *prometheus.GaugeVec

	mu      sync.Mutex
	queue   []job
	running map[string]bool
	wake    chan struct{}
	cache   *cache
	sizes   map[string]usage // disk usage of archived rooms

	store Store // where archives are read and written: Objects, or Dir
	local Store // Dir
}

// usage is the disk usage of an archived room as of its manifest's mtime.
type usage struct {
	at    time.Time
	bytes int64
}

type jobKind int

const (
	jobArchive jobKind = iota + 1
	jobDelete
)

type job struct {
	room string
	kind jobKind
}

// Initialize checks the configuration and starts the workers and the janitor
// (disk usage, retention).
func (a *Archiver) Initialize() error {
	if a.Dir == "" || a.Finished == nil {
		return errors.New("vod: Dir and Finished are required")
	}
	if a.Log == nil {
		a.Log = slog.New(slog.DiscardHandler)
	}
	if a.Workers <= 0 {
		a.Workers = 2
	}
	if err := os.MkdirAll(a.Dir, 0o755); err != nil {
		return fmt.Errorf("vod: create media dir: %w", err)
	}
	a.usage = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "roomcast_media_room_bytes",
		Help: "Bytes of media on disk per room (live sessions and VOD; rooms with media only).",
	}, []string{"room"})
	if a.Registerer != nil {
		if err := a.Registerer.Register(a.usage); err != nil {
			return fmt.Errorf("vod: register metrics: %w", err)
		}
	}
	a.local = DirStore(a.Dir)
	a.store = a.local
	if a.Objects != nil {
		a.store = a.Objects
	}
	a.running = map[string]bool{}
	a.sizes = map[string]usage{}
	a.wake = make(chan struct{}, 1)
	a.cache = newCache(maxCached)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	for range a.Workers {
		a.wg.Add(1)
		go a.runWorker()
	}
	a.wg.Add(1)
	go a.runJanitor()
	return nil
}

// Close stops the workers (a job in progress finishes first; queued jobs are
// dropped: rooms left ARCHIVING are re-archived at the next boot) and the janitor.
func (a *Archiver) Close() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.wg.Wait()
	if a.Registerer != nil {
		a.Registerer.Unregister(a.usage)
	}
}

// Archive queues the archiving of room roomUUID (the room ended, or was left
// ARCHIVING by a previous run). It never blocks.
func (a *Archiver) Archive(roomUUID string) { a.enqueue(job{room: roomUUID, kind: jobArchive}) }

// Delete queues the removal of all media of room roomUUID (the room was deleted).
func (a *Archiver) Delete(roomUUID string) { a.enqueue(job{room: roomUUID, kind: jobDelete}) }

func (a *Archiver) enqueue(j job) {
	if _, ok := parseRoom(j.room); !ok {
		a.Log.Error("vod: invalid room", "room", j.room)
		return
	}
	a.mu.Lock()
	a.queue = slices.DeleteFunc(a.queue, func(q job) bool { return q == j })
	a.queue = append(a.queue, j)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// next takes the first queued job whose room has no job running.
func (a *Archiver) next() (job, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, j := range a.queue {
		if !a.running[j.room] {
			a.queue = slices.Delete(a.queue, i, i+1)
			a.running[j.room] = true
			return j, true
		}
	}
	return job{}, false
}

func (a *Archiver) done(j job) {
	a.mu.Lock()
	delete(a.running, j.room)
	more := len(a.queue) > 0
	a.mu.Unlock()
	if more {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

func (a *Archiver) runWorker() {
	defer a.wg.Done()
	for {
		j, ok := a.next()
		if !ok {
			select {
			case <-a.ctx.Done():
				return
			case <-a.wake:
				continue
			}
		}
		switch j.kind {
		case jobArchive:
			a.doArchive(j.room)
		case jobDelete:
			a.doDelete(j.room)
		}
		a.done(j)
		if a.ctx.Err() != nil {
			return
		}
	}
}

// doArchive builds and saves the manifest, then reports the outcome.
func (a *Archiver) doArchive(room string) {
	start := time.Now()
	log := a.Log.With("room", room)
	if err := a.waitWritten(room); err != nil {
		log.Warn("vod: archive postponed to the next boot", "error", err)
		return
	}
	if err := a.waitStored(room); err != nil {
		log.Warn("vod: archive postponed to the next boot", "error", err)
		return
	}
	m, err := a.build(room)
	if err != nil {
		log.Error("vod: archiving failed", "error", err)
	} else {
		for _, s := range m.Sessions {
			if len(s.Notes) > 0 {
				log.Warn("vod: session archived with notes", "session", s.No, "segments", s.Segments,
					"recovered", s.Recovered, "skipped", s.Skipped, "notes", s.Notes)
			}
		}
		log.Info("vod: archived", "sessions", len(m.Sessions), "segments", len(m.Segments),
			"duration", m.Duration().Round(time.Millisecond), "took", time.Since(start).Round(time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ferr := a.Finished(ctx, room, err); ferr != nil {
		log.Error("vod: record archive outcome", "error", ferr)
	}
	a.updateUsage(room)
}

func (a *Archiver) build(room string) (*Manifest, error) {
	m, err := Build(a.ctx, a.store, room)
	if err != nil {
		return nil, err
	}
	if err := m.save(a.ctx, a.store); err != nil {
		return nil, err
	}
	a.cache.drop(room)
	if a.Objects != nil {
		// the archive is in the object store: the local copies can go
		if err := a.local.RemoveAll(a.ctx, room); err != nil {
			a.Log.Warn("vod: remove local media of a stored archive", "room", room, "error", err)
		}
	}
	return m, nil
}

// waitStored waits until the room's sessions are in the object store, trying
// again every storedRetry while the store is unreachable or uploads lag: the room
// stays ARCHIVING meanwhile. It fails only when the archiver closes.
func (a *Archiver) waitStored(room string) error {
	if a.Objects == nil || a.WaitStored == nil {
		return nil
	}
	for {
		ctx, cancel := context.WithTimeout(a.ctx, storedWait)
		err := a.WaitStored(ctx, room)
		cancel()
		if err == nil {
			return nil
		}
		if a.ctx.Err() != nil {
			return a.ctx.Err()
		}
		a.Log.Warn("vod: sessions not stored yet, archive waits", "room", room, "error", err)
	}
}

// waitWritten waits until the room's sessions are written to the end (at most
// writtenWait; then what is on disk is archived). It fails only when the
// archiver closes meanwhile.
func (a *Archiver) waitWritten(room string) error {
	if a.WaitWritten == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(a.ctx, writtenWait)
	defer cancel()
	err := a.WaitWritten(ctx, room)
	switch {
	case err == nil:
		return nil
	case a.ctx.Err() != nil:
		return a.ctx.Err()
	default:
		a.Log.Warn("vod: sessions still written, archiving what is on disk", "room", room, "error", err)
		return nil
	}
}

func (a *Archiver) doDelete(room string) {
	a.cache.drop(room)
	a.mu.Lock()
	delete(a.sizes, room)
	a.mu.Unlock()
	err := a.local.RemoveAll(a.ctx, room)
	if err == nil && a.Objects != nil {
		err = a.Objects.RemoveAll(a.ctx, room)
	}
	if err != nil {
		a.Log.Error("vod: delete room media", "room", room, "error", err)
	} else {
		a.Log.Info("vod: room media deleted", "room", room)
	}
	a.usage.DeleteLabelValues(room)
}

// runJanitor refreshes the disk usage gauge and applies the retention.
func (a *Archiver) runJanitor() {
	defer a.wg.Done()
	t := time.NewTicker(usageEvery)
	defer t.Stop()
	for {
		a.scan()
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scan walks the rooms on disk: usage per room, retention of archived ones (in
// the object store when there is one).
func (a *Archiver) scan() {
	if a.Objects != nil && a.Retention > 0 {
		rooms, err := storedRooms(a.ctx, a.Objects)
		if err != nil {
			a.Log.Warn("vod: list stored rooms", "error", err)
		}
		for _, room := range rooms {
			if a.ctx.Err() != nil {
				return
			}
			a.expire(room)
		}
	}
	ents, err := os.ReadDir(a.Dir)
	if err != nil {
		a.Log.Warn("vod: scan media dir", "error", err)
		return
	}
	sizes := map[string]int64{}
	for _, e := range ents {
		room, ok := parseRoom(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		if a.ctx.Err() != nil {
			return
		}
		if a.Objects == nil && a.expire(room) {
			continue
		}
		if a.Objects != nil && a.dropStoredLocal(room) {
			continue
		}
		if n, ok := a.archivedBytes(room); ok {
			sizes[room] = n
		}
	}
	a.usage.Reset()
	for room, n := range sizes {
		a.usage.WithLabelValues(room).Set(float64(n))
	}
}

// dropStoredLocal removes the local files of a room whose archive is in the
// object store and whose local sessions are all stored there; it reports whether
// they went.
func (a *Archiver) dropStoredLocal(room string) bool {
	if a.LocalStored == nil || !a.LocalStored(room) {
		return false
	}
	if _, err := a.Objects.ModTime(a.ctx, room+"/"+ManifestFile); err != nil {
		return false // not archived (yet), or the store does not answer
	}
	if err := a.local.RemoveAll(a.ctx, room); err != nil {
		a.Log.Warn("vod: remove local media of a stored archive", "room", room, "error", err)
		return false
	}
	a.Log.Info("vod: local media of an archive in the object store removed", "room", room)
	a.usage.DeleteLabelValues(room)
	return true
}

// expire applies the retention to one room; it reports whether the media went.
func (a *Archiver) expire(room string) bool {
	if a.Retention <= 0 {
		return false
	}
	// the manifest is written once, when archiving ends: its mtime is the archive
	// time (a stat, not a read of the manifest, for every room every minute)
	archivedAt, err := a.store.ModTime(a.ctx, room+"/"+ManifestFile)
	if err != nil || time.Since(archivedAt) < a.Retention {
		return false
	}
	if a.Expired != nil {
		ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
		err := a.Expired(ctx, room)
		cancel()
		if err != nil {
			a.Log.Warn("vod: record expiry, media kept for now", "room", room, "error", err)
			return false
		}
	}
	a.Log.Info("vod: retention expired", "room", room, "archivedAt", archivedAt)
	a.doDelete(room)
	return true
}

// archivedBytes returns the disk usage of a room; the sum for an archived room is
// kept until its manifest changes (its files no longer do), so the periodic scan
// walks only the rooms still being broadcast.
func (a *Archiver) archivedBytes(room string) (int64, bool) {
	st, err := os.Stat(filepath.Join(a.Dir, room, ManifestFile))
	if err == nil {
		a.mu.Lock()
		u, ok := a.sizes[room]
		a.mu.Unlock()
		if ok && u.at.Equal(st.ModTime()) {
			return u.bytes, true
		}
	}
	n, werr := a.roomBytes(room)
	if werr != nil {
		return 0, false
	}
	if err == nil {
		a.mu.Lock()
		a.sizes[room] = usage{at: st.ModTime(), bytes: n}
		a.mu.Unlock()
	}
	return n, true
}

// updateUsage sets the gauge of one room from its files on disk.
func (a *Archiver) updateUsage(room string) {
	n, err := a.roomBytes(room)
	if err != nil {
		a.usage.DeleteLabelValues(room)
		return
	}
	a.usage.WithLabelValues(room).Set(float64(n))
}

// roomBytes sums the sizes of the files of a room.
func (a *Archiver) roomBytes(room string) (int64, error) {
	var n int64
	err := filepath.WalkDir(filepath.Join(a.Dir, room), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}

// parseRoom accepts a canonical lowercase UUID only.
func parseRoom(s string) (string, bool) { return s, timeline.ValidRoomUUID(s) }
