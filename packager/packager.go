package packager

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/objstore"
	"github.com/roomcast/roomcast/packager/upload"
	"github.com/roomcast/roomcast/packager/vod"
)

// ErrRoomNotFound is what RoomInfo and VODExpired return for an unknown or
// deleted room; playback answers 404.
var ErrRoomNotFound = errors.New("room not found")

const (
	previewDirName = ".preview"
	// endedLinger is how long an ended stream stays playable (ENDLIST) before it is
	// forgotten.
	endedLinger = time.Minute
	// pendingBindTTL bounds how long a Bind waits for its Attach.
	pendingBindTTL = 30 * time.Second
	// packagerQueue is the packager's hub queue in units (~2.5 s of 30 fps
	// video with audio) and packagerQueueBytes in payload bytes (~1.4 s at 3
	// Mbit/s, ~0.2 s at 20): what a stream the process cannot keep up with holds
	// while its publisher waits; packagerMaxBlock how long the publisher waits for
	// room before a unit is dropped (a segmenter stuck that long is failing anyway).
	packagerQueue      = 192
	packagerQueueBytes = 512 << 10
	packagerMaxBlock   = 5 * time.Second
	// maxWaiters bounds concurrent blocking playlist/part requests.
	maxWaiters = 20000
)

// Session identifies the live session a stream is published for.
type Session struct {
	// AppID is the app owning the room; only tokens of this app may play it.
	AppID uint64
	// RoomUUID is the room's UUID (canonical lowercase form).
	RoomUUID string
	// SessionNo is the 1-based session number within the room.
	SessionNo int
	// RecordOnly marks a session that is recorded for the VOD but not offered as
	// live CMAF (a mode=RTMP publish: viewers get the RTMP relay only); its /live/
	// URLs answer 404.
	RecordOnly bool
}

// RoomInfo is what playback needs to know about a room: the player page shows it,
// /vod/ serves a room whose VODURL is set.
type RoomInfo struct {
	// AppID is the app owning the room; only its tokens may play it.
	AppID uint64 `json:"-"`
	// Title of the room.
	Title string `json:"title"`
	// State is the videoRoomState (SCHEDULED, LIVE, LIVE_INACTIVE, ENDED, ...).
	State string `json:"state"`
	// PlayURL is the current HLS play URL without token, "" when not LIVE.
	PlayURL string `json:"playUrl"`
	// VODURL is the VOD HLS URL without token, "" until archived (and again once
	// retention deleted the VOD); /vod/ answers 404 while it is "".
	VODURL string `json:"vodUrl"`
	// ViewerCount is the room's concurrent viewers while it is live (0 otherwise).
	ViewerCount int `json:"viewerCount"`
}

// Packager turns live hub streams into CMAF segments, serves them as LL-HLS and
// DASH, archives the sessions of ended rooms as VODs (packager/vod) and serves
// those. It owns the media directory. Set the exported fields, call Initialize,
// mount Handler, and Close at shutdown.
type Packager struct {
	// Dir is the media directory (<data>/media); sessions live in
	// Dir/{roomUuid}/{sessionNo}/.
	Dir string
	// SegmentDuration is the target segment duration (default 2s); segments start
	// at the first video keyframe after it.
	SegmentDuration time.Duration
	// PartDuration is the LL-HLS part target duration (default 200ms).
	PartDuration time.Duration
	// LiveWindow is the number of complete segments listed in live playlists
	// (default 6).
	LiveWindow int
	// Log receives the packager's logs (default: discard).
	Log *slog.Logger
	// VerifyToken checks a streamingToken without a store read and returns the
	// app it belongs to and the member it was issued to (the viewer). Required.
	VerifyToken func(token string) (appID, memberID uint64, err error)
	// SignKey signs the URIs of live media files (sign.go): nil keeps the viewer's
	// token on them, as on the manifests. SignWindow is how long one signature is
	// handed out (DefaultSignWindow when zero).
	SignKey    []byte
	SignWindow time.Duration
	// Upstream names the node that holds live session no of room when another
	// node of a cluster does: its public HTTP base URL ("" when none, or this
	// node). Such a session's requests are fetched from there (edge.go). Nil: one
	// node.
	Upstream func(ctx context.Context, room string, no int) (string, error)
	// OnViewer is called for every authorized request of a live session's
	// playlists, manifests, init segments, parts and segments (not VOD, not the
	// player page), with the room and the viewer's member ID, on the request's
	// goroutine: it must be O(1) and not block (cmd's viewer counter,
	// packager/viewers). Optional.
	OnViewer func(roomUUID string, memberID uint64)
	// RoomInfo describes a room for the player page and /vod/; it returns
	// ErrRoomNotFound for unknown rooms. Optional (/watch/ and /vod/ answer 404
	// without it).
	RoomInfo func(ctx context.Context, roomUUID string) (RoomInfo, error)
	// VODFinished records the outcome of archiving a room (nil error: the VOD is
	// ready, else archiving failed), called once per Archive on an archive worker.
	// Optional (the outcome is only logged).
	VODFinished func(ctx context.Context, roomUUID string, archiveErr error) error
	// VODExpired records that retention deleted a room's VOD; another error than
	// ErrRoomNotFound keeps the media until the next scan (a minute later).
	// Optional.
	VODExpired func(ctx context.Context, roomUUID string) error
	// VODRetention deletes VOD media this long after archiving (default 0: kept
	// forever).
	VODRetention time.Duration
	// Objects, when set, keeps recordings in an object store: every session's
	// init and segment files and its index are uploaded as they are closed
	// (packager/upload), archives are built from and saved to the store, VODs are
	// served from it (so by any node), and a room's local files are removed once
	// its archive is stored. Nil: recordings stay in Dir.
	Objects *objstore.Client
	// WaitStored, with Objects, blocks until the sessions of the room held by
	// other nodes are stored complete (or their node is gone), or ctx ends; this
	// node's own uploads are waited for by the packager. Optional (one node).
	WaitStored func(ctx context.Context, roomUUID string) error
	// OnStreamFailed is called (on the stream's goroutine, after its playlists
	// ended) when a stream could not be packaged — a segment that cannot be
	// written (disk full, no descriptor left, I/O error) or broken media — so that
	// the caller stops the publish visibly (its room goes LIVE_INACTIVE; the
	// encoder's reconnect resumes it as the next session). Optional.
	OnStreamFailed func(streamID string, err error)
	// Registerer receives the playback request metrics
	// (roomcast_playback_requests_total, roomcast_playback_request_duration_seconds)
	// and the media disk usage per room (roomcast_media_room_bytes). Nil: no
	// metrics.
	Registerer prometheus.Registerer

	metrics  *httpMetrics
	edge     *edge // relay to the holders of other nodes' sessions (edge.go)
	archiver *vod.Archiver
	uploader *upload.Uploader // with Objects

	// blockTimeout overrides the blocking bound (tests); 0 means 3 target durations.
	blockTimeout time.Duration

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mux     *http.ServeMux
	waiting atomic.Int64

	mu        sync.Mutex
	closed    bool
	seq       uint64
	byStream  map[string]*stream
	bySession map[string]*stream
	pending   map[string]pendingBind
	attached  chan struct{} // closed (and replaced) at every Attach
	jobs      []job
}

type pendingBind struct {
	sess Session
	at   time.Time
}

type job struct {
	at time.Time
	fn func()
}

// Initialize checks the configuration, prepares Dir and starts the janitor and
// the archiver.
func (p *Packager) Initialize() error {
	if p.Dir == "" {
		return errors.New("packager: Dir is required")
	}
	if p.VerifyToken == nil {
		return errors.New("packager: VerifyToken is required")
	}
	if p.SegmentDuration <= 0 {
		p.SegmentDuration = 2 * time.Second
	}
	if p.PartDuration <= 0 {
		p.PartDuration = 200 * time.Millisecond
	}
	if p.PartDuration > p.SegmentDuration {
		return fmt.Errorf("packager: part duration %v longer than segment duration %v", p.PartDuration, p.SegmentDuration)
	}
	if p.LiveWindow <= 0 {
		p.LiveWindow = 6
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return fmt.Errorf("create media dir: %w", err)
	}
	// previews never outlive the process
	if err := os.RemoveAll(filepath.Join(p.Dir, previewDirName)); err != nil {
		return fmt.Errorf("clear previews: %w", err)
	}
	p.byStream = make(map[string]*stream)
	p.bySession = make(map[string]*stream)
	p.pending = make(map[string]pendingBind)
	p.attached = make(chan struct{})
	p.edge = newEdge()
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if p.Registerer != nil {
		m, err := newHTTPMetrics(p.Registerer)
		if err != nil {
			return fmt.Errorf("packager: register metrics: %w", err)
		}
		p.metrics = m
	}
	p.archiver = &vod.Archiver{
		Dir:         p.Dir,
		Log:         p.Log,
		WaitWritten: p.waitWritten,
		Finished:    p.vodFinished,
		Expired:     p.vodExpired,
		Retention:   p.VODRetention,
		Registerer:  p.Registerer,
	}
	if p.Objects != nil {
		p.uploader = &upload.Uploader{Dir: p.Dir, Objects: p.Objects, Log: p.Log, Registerer: p.Registerer,
			Prepare: p.Objects.EnsureBucket}
		if err := p.uploader.Initialize(); err != nil {
			p.metrics.unregister(p.Registerer)
			return fmt.Errorf("packager: %w", err)
		}
		p.archiver.Objects = vod.ObjectStore{C: p.Objects}
		p.archiver.WaitStored = p.waitStored
		p.archiver.LocalStored = p.localStored
	}
	if err := p.archiver.Initialize(); err != nil {
		if p.uploader != nil {
			p.uploader.Close()
		}
		p.metrics.unregister(p.Registerer)
		return fmt.Errorf("packager: %w", err)
	}
	p.mux = p.routes()
	p.wg.Add(1)
	go p.runJanitor()
	return nil
}

// Close stops packaging: every stream is flushed (its last segment written) and
// every waiting viewer request is released; then archiving stops (a job in
// progress finishes and records its outcome; queued ones are dropped: rooms left
// ARCHIVING are archived again after the next Initialize). It waits for the
// packager's goroutines.
func (p *Packager) Close() {
	p.mu.Lock()
	if p.closed || p.cancel == nil {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	jobs := p.jobs
	p.jobs = nil
	p.mu.Unlock()
	for _, j := range jobs {
		j.fn()
	}
	if p.archiver != nil {
		p.archiver.Close()
	}
	if p.uploader != nil {
		p.uploader.Close()
	}
}

// waitStored blocks until every session of the room is in the object store: this
// node's uploads, then (WaitStored) other nodes'.
func (p *Packager) waitStored(ctx context.Context, roomUUID string) error {
	if err := p.uploader.WaitRoom(ctx, roomUUID); err != nil {
		return err
	}
	if p.WaitStored != nil {
		return p.WaitStored(ctx, roomUUID)
	}
	return nil
}

// localStored reports whether this node has nothing of the room left to upload
// and is not writing any of its sessions.
func (p *Packager) localStored(roomUUID string) bool {
	p.mu.Lock()
	for k := range p.bySession {
		if strings.HasPrefix(k, roomUUID+"/") {
			p.mu.Unlock()
			return false
		}
	}
	p.mu.Unlock()
	return p.uploader.RoomStored(roomUUID)
}

// Attach starts packaging s (every publish, whatever its mode: the VOD records
// every session) as a preview. The stream is recorded and, unless the session is
// RecordOnly, playable under its session's URLs once Bind is called (before or
// after Attach). Attach registers its hub reader before it returns, so every unit
// written to s afterwards is seen (the publisher writes the units it buffered
// while detecting its tracks, the first key frame among them, right after).
// Packaging stops when s is closed.
func (p *Packager) Attach(streamID string, s *hub.Stream) {
	p.mu.Lock()
	if p.closed || p.byStream == nil {
		p.mu.Unlock()
		return
	}
	p.seq++
	dir := filepath.Join(p.Dir, previewDirName, safeName(streamID)+"-"+strconv.FormatUint(p.seq, 10))
	st := newStream(p, streamID, s, dir)
	p.byStream[streamID] = st
	close(p.attached)
	p.attached = make(chan struct{})
	if pb, ok := p.pending[streamID]; ok {
		delete(p.pending, streamID)
		if time.Since(pb.at) < pendingBindTTL && st.bind(pb.sess) {
			p.bySession[sessionKey(pb.sess.RoomUUID, pb.sess.SessionNo)] = st
		}
	}
	p.wg.Add(1)
	p.mu.Unlock()
	// MaxBlock: the packager's units are the recording — when the segmenter falls
	// behind, the publisher is slowed (back pressure to its socket) instead of
	// units being dropped or queued without bound.
	r := &hub.Reader{SkipToKeyframe: true, OnUnit: st.seg.write, Name: "packager",
		QueueSize: packagerQueue, MaxBytes: packagerQueueBytes, MaxBlock: packagerMaxBlock}
	err := s.AddReader(r)
	go p.run(st, r, err)
}

// Bind makes the stream of streamID the live session sess. The session starts
// with the key frame that starts the GOP in progress (the stream's first key frame
// when Bind comes before Attach): the segmenter goroutine, at its next part or
// segment, moves that GOP's preview segments into Dir/{roomUuid}/{sessionNo}/
// (hard links) and indexes them for the VOD; later segments are written there
// directly. The session's URLs serve the stream (preview segments still in the
// live window included, so playback starts at once) unless sess.RecordOnly. Bind
// does no file work itself.
func (p *Packager) Bind(streamID string, sess Session) {
	if _, ok := parseRoom(sess.RoomUUID); !ok || sess.SessionNo <= 0 {
		p.Log.Error("bind: invalid session", "room", sess.RoomUUID, "session", sess.SessionNo)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.byStream == nil {
		return
	}
	if st := p.byStream[streamID]; st != nil && st.bind(sess) {
		p.bySession[sessionKey(sess.RoomUUID, sess.SessionNo)] = st
		st.log.Info("stream bound", "room", sess.RoomUUID, "session", sess.SessionNo)
		return
	}
	for id, pb := range p.pending {
		if time.Since(pb.at) > pendingBindTTL {
			delete(p.pending, id)
		}
	}
	p.pending[streamID] = pendingBind{sess: sess, at: time.Now()}
}

// Handler serves /live/, /vod/, /watch/ and /time (playback.go). It is valid
// after Initialize.
func (p *Packager) Handler() http.Handler { return p.mux }

// run owns the packaging of st: it waits for the end of its hub reader r (added
// by Attach; added is AddReader's error) and ends the stream.
func (p *Packager) run(st *stream, r *hub.Reader, added error) {
	defer p.wg.Done()
	var cause error
	if added != nil {
		cause = added
	} else {
		select {
		case cause = <-r.Err():
		case <-p.ctx.Done():
			cause = hub.ErrStreamClosed
		}
		st.hubStream.RemoveReader(r)
	}
	st.end(cause)
	st.mu.Lock()
	failed := st.failed
	st.mu.Unlock()
	if failed && p.OnStreamFailed != nil {
		p.OnStreamFailed(st.id, cause)
	}
	p.later(endedLinger, func() { p.forget(st) })
}

// forget drops an ended stream and its preview files.
func (p *Packager) forget(st *stream) {
	p.mu.Lock()
	if p.byStream[st.id] == st {
		delete(p.byStream, st.id)
	}
	for k, s := range p.bySession {
		if s == st {
			delete(p.bySession, k)
		}
	}
	p.mu.Unlock()
	if err := os.RemoveAll(st.previewDir); err != nil {
		p.Log.Warn("remove preview", "error", err)
	}
}

// Archive queues the archiving of room roomUUID (it ended, or a previous run left
// it ARCHIVING). The job starts once every session of the room is written to the
// end (at most 30 s after the call) and reports through VODFinished. It never
// blocks. Valid after Initialize.
func (p *Packager) Archive(roomUUID string) {
	a := p.openArchiver()
	if a == nil {
		p.Log.Warn("archive after close: the room stays ARCHIVING until the next start", "room", roomUUID)
		return
	}
	a.Archive(roomUUID)
}

// DeleteRoom queues the removal of all media of room roomUUID (the room was
// deleted). It never blocks.
func (p *Packager) DeleteRoom(roomUUID string) {
	if a := p.openArchiver(); a != nil {
		if p.uploader != nil {
			p.uploader.Forget(roomUUID)
		}
		a.Delete(roomUUID)
	}
}

// openArchiver returns the archiver while the packager runs, nil once Close
// began. Archive and DeleteRoom are valid after Initialize.
func (p *Packager) openArchiver() *vod.Archiver {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	return p.archiver
}

// waitWritten blocks until no session of room roomUUID is being written (every
// stream bound to one ended and flushed its last segment) or ctx ends: the
// archiver's signal that the session files are complete.
func (p *Packager) waitWritten(ctx context.Context, roomUUID string) error {
	p.mu.Lock()
	var done []chan struct{}
	for k, st := range p.bySession {
		if strings.HasPrefix(k, roomUUID+"/") {
			done = append(done, st.done)
		}
	}
	p.mu.Unlock()
	for _, d := range done {
		select {
		case <-d:
		case <-ctx.Done():
			return fmt.Errorf("room %s still written: %w", roomUUID, ctx.Err())
		}
	}
	return nil
}

func (p *Packager) vodFinished(ctx context.Context, roomUUID string, archiveErr error) error {
	if p.VODFinished == nil {
		return nil
	}
	return p.VODFinished(ctx, roomUUID, archiveErr)
}

// vodExpired records an expiry; a room already gone loses its media all the same.
func (p *Packager) vodExpired(ctx context.Context, roomUUID string) error {
	if p.VODExpired == nil {
		return nil
	}
	if err := p.VODExpired(ctx, roomUUID); err != nil && !errors.Is(err, ErrRoomNotFound) {
		return err
	}
	return nil
}

func (p *Packager) lookup(room string, no int) *stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bySession[sessionKey(room, no)]
}

// lookupWait is lookup for a viewer: a session that is bound but whose stream is
// not attached yet (a resume: control makes the room LIVE, and shows its URLs,
// before the publisher's tracks are known) is waited for, at most d, so that a
// play URL plays from the moment it is shown instead of answering 404.
func (p *Packager) lookupWait(ctx context.Context, room string, no int, d time.Duration) *stream {
	var timer *time.Timer
	for {
		p.mu.Lock()
		st := p.bySession[sessionKey(room, no)]
		pending := false
		for _, pb := range p.pending {
			if pb.sess.RoomUUID == room && pb.sess.SessionNo == no && time.Since(pb.at) < pendingBindTTL {
				pending = true
				break
			}
		}
		ch := p.attached
		p.mu.Unlock()
		if st != nil || !pending {
			return st
		}
		if timer == nil {
			if p.waiting.Add(1) > maxWaiters {
				p.waiting.Add(-1)
				return nil
			}
			defer p.waiting.Add(-1)
			timer = time.NewTimer(d)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return nil
		case <-p.ctx.Done():
			return nil
		}
	}
}

func (p *Packager) sessionDir(s *Session) string {
	return filepath.Join(p.Dir, s.RoomUUID, strconv.Itoa(s.SessionNo))
}

// trash deletes a preview file once viewers of the live window are done with it.
func (p *Packager) trash(path string) {
	grace := time.Duration(p.LiveWindow) * p.SegmentDuration
	p.later(grace, func() {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.Log.Warn("remove preview segment", "error", err)
		}
	})
}

// later runs fn on the janitor after d (or at Close).
func (p *Packager) later(d time.Duration, fn func()) {
	p.mu.Lock()
	if !p.closed {
		p.jobs = append(p.jobs, job{at: time.Now().Add(d), fn: fn})
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	fn()
}

func (p *Packager) runJanitor() {
	defer p.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case now := <-t.C:
			p.mu.Lock()
			var due []job
			p.jobs = slices.DeleteFunc(p.jobs, func(j job) bool {
				if now.After(j.at) {
					due = append(due, j)
					return true
				}
				return false
			})
			p.mu.Unlock()
			for _, j := range due {
				j.fn()
			}
		}
	}
}

// safeName keeps stream IDs usable as directory names.
func safeName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
