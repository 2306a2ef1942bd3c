package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

const (
	startRetry    = 250 * time.Millisecond
	errorBackoff  = 500 * time.Millisecond
	blockingExtra = 3 // target durations added to the timeout of a blocking reload
)

// viewer is one player of one stream: it follows the video variant and, when the
// multivariant playlist has one, the default audio rendition, each in its own track.
type viewer struct {
	url  string
	mode ViewerMode
	cfg  *Config
	f    *fetcher
	log  *slog.Logger
	// publishedAt returns when the stream's publisher first got NetStream.Publish.Start
	// (zero when unknown), for the first-playable measure.
	publishedAt func() time.Time
	firstMedia  sync.Once
}

func (v *viewer) run(ctx context.Context) {
	v.f.stats.running.Add(1)
	defer v.f.stats.running.Add(-1)
	body, err := v.start(ctx)
	if err != nil {
		if ctx.Err() == nil {
			v.f.stats.startFailures.Add(1)
			v.f.stats.setErr(fmt.Errorf("start: %s", redactErr(err)))
		}
		return
	}
	base, _ := url.Parse(v.url) // validated by start's request
	pl, err := playlist.Unmarshal(body)
	if err != nil {
		v.f.stats.kinds[kindMultivariant].errors.Add(1)
		v.f.stats.setErr(fmt.Errorf("parse playlist: %w", err))
		return
	}
	switch pl := pl.(type) {
	case *playlist.Media:
		(&track{v: v, base: base}).run(ctx, pl)
	case *playlist.Multivariant:
		v.runTracks(ctx, base, pl)
	}
}

// start fetches the entry URL until it answers 200 or StartTimeout passes; failures
// before that are start retries (the stream may not be packaged yet), not errors.
func (v *viewer) start(ctx context.Context) ([]byte, error) {
	ctx2, cancel := context.WithTimeout(ctx, v.cfg.StartTimeout)
	defer cancel()
	for {
		t0 := time.Now()
		body, _, err := v.f.do(ctx2, v.url, v.cfg.HTTPTimeout)
		if err == nil {
			v.f.stats.kinds[kindMultivariant].latency.Observe(time.Since(t0))
			v.f.stats.kinds[kindMultivariant].bytes.Add(int64(len(body)))
			return body, nil
		}
		v.f.stats.startRetries.Add(1)
		if !sleepCtx(ctx2, startRetry) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("no playlist within --start-timeout %s: %w", v.cfg.StartTimeout, err)
		}
	}
}

func (v *viewer) runTracks(ctx context.Context, base *url.URL, mv *playlist.Multivariant) {
	if len(mv.Variants) == 0 {
		v.f.stats.setErr(errors.New("multivariant playlist without variants"))
		return
	}
	uris := []string{mv.Variants[0].URI}
	if r := audioRendition(mv, mv.Variants[0].Audio); r != "" {
		uris = append(uris, r)
	}
	var wg sync.WaitGroup
	for _, ref := range uris {
		u, err := resolve(base, ref)
		if err != nil {
			v.f.stats.setErr(err)
			continue
		}
		mu, _ := url.Parse(u)
		wg.Go(func() { (&track{v: v, base: mu}).run(ctx, nil) })
	}
	wg.Wait()
}

func audioRendition(mv *playlist.Multivariant, group string) string {
	uri := ""
	for _, r := range mv.Renditions {
		if r.Type != playlist.MultivariantRenditionTypeAudio || r.GroupID != group || r.URI == nil || *r.URI == "" {
			continue
		}
		if r.Default || uri == "" {
			uri = *r.URI
		}
	}
	return uri
}

func (v *viewer) gotMedia() {
	v.firstMedia.Do(func() {
		if t := v.publishedAt(); !t.IsZero() {
			v.f.stats.firstPlayable.Observe(time.Since(t))
		}
	})
}

// track follows one media playlist. Like hls.js, its playlist loop and its media
// loads run side by side: the playlist loop queues the URIs of new parts and
// segments, a loader goroutine fetches them in order, so a slow part never delays
// the next blocking reload (and the part-age measure stays a server-side one).
type track struct {
	v        *viewer
	base     *url.URL
	lastPart partRef
	lastSeg  int
	queue    chan mediaReq
}

// mediaReq is one part or segment to load.
type mediaReq struct {
	kind reqKind
	uri  string
}

// mediaQueue bounds the loads waiting per track; beyond it new ones are skipped
// and counted (a viewer that far behind would have stalled anyway).
const mediaQueue = 64

func (t *track) run(ctx context.Context, m *playlist.Media) {
	t.queue = make(chan mediaReq, mediaQueue)
	var loader sync.WaitGroup
	loader.Go(func() { t.load(ctx) })
	defer loader.Wait()
	defer close(t.queue)
	t.follow(ctx, m)
}

// load fetches queued media until the queue is closed.
func (t *track) load(ctx context.Context) {
	for req := range t.queue {
		if ctx.Err() != nil {
			continue // drain
		}
		u, err := resolve(t.base, req.uri)
		if err != nil {
			t.v.f.stats.setErr(err)
			continue
		}
		if _, _, err := t.v.f.timedGet(ctx, req.kind, u, 0); err == nil {
			t.v.gotMedia()
		}
	}
}

func (t *track) fetchMedia(kind reqKind, uri string) {
	select {
	case t.queue <- mediaReq{kind: kind, uri: uri}:
	default:
		t.v.f.stats.skipped.Add(1)
	}
}

// follow runs the playlist loop until ctx ends or the playlist ends.
func (t *track) follow(ctx context.Context, m *playlist.Media) {
	if m == nil {
		var err error
		if m, _, err = t.fetch(ctx, kindPlaylist, t.base.String(), 0); err != nil {
			return
		}
	}
	t.begin(ctx, m)
	for ctx.Err() == nil && !m.Endlist {
		next, nextAt, err := t.reload(ctx, m)
		if err != nil {
			if !sleepCtx(ctx, errorBackoff) {
				return
			}
			if next, nextAt, err = t.fetch(ctx, kindPlaylist, t.base.String(), 0); err != nil {
				continue
			}
		}
		t.consume(ctx, next, nextAt)
		m = next
	}
}

// begin fetches the init section and the newest part (LL) or segment (plain), like
// a player joining at the live edge, and marks everything listed as seen.
func (t *track) begin(ctx context.Context, m *playlist.Media) {
	if m.Map != nil {
		if u, err := resolve(t.base, m.Map.URI); err == nil {
			_, _, _ = t.v.f.timedGet(ctx, kindInit, u, 0)
		}
	}
	segs, parts := timeline(m)
	t.lastPart, t.lastSeg = partRef{msn: -1, part: -1}, -1
	if len(parts) > 0 {
		last := parts[len(parts)-1]
		if t.v.mode == ViewerLL {
			t.fetchMedia(kindPart, last.uri)
		}
		t.lastPart = last.ref
	}
	if len(segs) > 0 {
		last := segs[len(segs)-1]
		if t.v.mode == ViewerPlain || len(parts) == 0 {
			t.fetchMedia(kindSegment, last.uri)
		}
		t.lastSeg = last.msn
	}
}

// reload gets the next playlist: a blocking reload for the next part when the server
// supports it (LL mode), else a poll after the part or segment target duration.
func (t *track) reload(ctx context.Context, m *playlist.Media) (*playlist.Media, time.Time, error) {
	target := time.Duration(m.TargetDuration) * time.Second
	if t.v.mode == ViewerLL && canBlock(m) {
		n := nextPart(m)
		u := withQuery(t.base, "_HLS_msn", strconv.Itoa(n.msn), "_HLS_part", strconv.Itoa(n.part))
		return t.fetch(ctx, kindBlocking, u, blockingExtra*target)
	}
	wait := target
	if t.v.mode == ViewerLL && m.PartInf != nil {
		wait = m.PartInf.PartTarget
	}
	if !sleepCtx(ctx, wait) {
		return nil, time.Time{}, ctx.Err()
	}
	return t.fetch(ctx, kindPlaylist, t.base.String(), 0)
}

func canBlock(m *playlist.Media) bool {
	return m.ServerControl != nil && m.ServerControl.CanBlockReload && m.PartInf != nil
}

func (t *track) fetch(ctx context.Context, kind reqKind, u string, extra time.Duration) (*playlist.Media, time.Time, error) {
	body, at, err := t.v.f.timedGet(ctx, kind, u, extra)
	if err != nil {
		return nil, at, err
	}
	var m playlist.Media
	if err := m.Unmarshal(body); err != nil {
		t.v.f.stats.kinds[kind].errors.Add(1)
		t.v.f.stats.setErr(fmt.Errorf("%s: parse: %w", kind, err))
		return nil, at, err
	}
	return &m, at, nil
}

// consume records the age of every newly listed part and segment at the moment the
// playlist arrived, then fetches them (parts in LL mode; segments in plain mode, or in
// LL mode with --ll-segments).
func (t *track) consume(ctx context.Context, m *playlist.Media, at time.Time) {
	segs, parts := timeline(m)
	st := t.v.f.stats
	for _, p := range parts {
		if !p.ref.after(t.lastPart) {
			continue
		}
		if !p.end.IsZero() {
			st.partAge.Observe(at.Sub(p.end))
		}
		if t.v.mode == ViewerLL {
			t.fetchMedia(kindPart, p.uri)
		}
		t.lastPart = p.ref
	}
	for _, s := range segs {
		if s.msn <= t.lastSeg {
			continue
		}
		if !s.end.IsZero() {
			st.segmentAge.Observe(at.Sub(s.end))
		}
		if t.v.mode == ViewerPlain || t.v.cfg.LLSegments || len(parts) == 0 {
			t.fetchMedia(kindSegment, s.uri)
		}
		t.lastSeg = s.msn
	}
}
