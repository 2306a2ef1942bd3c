package packager

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Any node of a cluster serves any live session. A request for a session this
// node does not package is served by fetching the same path and query from the
// node that does (Packager.Upstream names it): the holder checks the token or
// signature as for its own viewers. Concurrent identical requests (the same
// signed segment or part for every viewer, the same blocking reload) share one
// upstream fetch, a flight, and each streams the answer as it arrives (the LL-DASH
// segment in progress comes chunked, part by part); media files, immutable, are
// kept for edgeTTL in a cache bounded by edgeCacheBytes, so an edge node fetches
// each file about once however many viewers it serves.

const (
	// edgeTTL is how long an edge keeps a fetched media file: a little longer
	// than a live window.
	edgeTTL = time.Minute
	// edgeCacheBytes bounds the edge cache (least recently used out first).
	edgeCacheBytes = 64 << 20
	// edgeFetchTimeout bounds one upstream fetch (blocking reloads wait up to
	// three target durations at the holder).
	edgeFetchTimeout = 30 * time.Second
	// edgeMaxBody bounds an upstream answer.
	edgeMaxBody = 32 << 20
)

// edgeAnswer is an upstream answer as relayed to viewers.
type edgeAnswer struct {
	status int
	header http.Header
	body   []byte
	at     time.Time
}

// edge is the packager's relay to holder nodes.
type edge struct {
	client *http.Client

	mu      sync.Mutex
	flights map[string]*flight // fetches in progress, by path and query
	lru     *list.List         // of *edgeEntry, most recent first
	byKey   map[string]*list.Element
	bytes   int
}

// edgeEntry is one cached media file.
type edgeEntry struct {
	key string
	a   *edgeAnswer
}

func newEdge() *edge {
	return &edge{
		client: &http.Client{Timeout: edgeFetchTimeout, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}},
		lru:     list.New(),
		byKey:   map[string]*list.Element{},
		flights: map[string]*flight{},
	}
}

// flight is one upstream fetch that every identical request streams from.
type flight struct {
	ready  chan struct{} // closed once status and header are known, or err
	status int
	header http.Header
	length int64 // Content-Length of the answer, -1 when chunked

	mu   sync.Mutex
	body []byte        // what arrived so far (only appended to)
	grew chan struct{} // closed, and replaced, when body grows or the flight lands
	done bool
	err  error // set before ready (no answer) or before done (answer cut short)
}

// serveFromHolder answers r with what the holder at base answers for the same
// path and query.
func (p *Packager) serveFromHolder(w http.ResponseWriter, r *http.Request, base, file string) {
	e := p.edge
	key := r.URL.Path + "?" + r.URL.RawQuery
	immutable := isMediaFile(file)
	if immutable {
		if a := e.get(key); a != nil {
			p.metrics.edgeRequest("hit")
			writeEdge(w, r, a)
			return
		}
	}
	e.mu.Lock()
	f := e.flights[key]
	if f == nil {
		if a := e.getLocked(key, immutable); a != nil { // landed since the check above
			e.mu.Unlock()
			p.metrics.edgeRequest("hit")
			writeEdge(w, r, a)
			return
		}
		f = &flight{ready: make(chan struct{}), grew: make(chan struct{})}
		e.flights[key] = f
		p.metrics.edgeRequest("fetch")
		p.wg.Add(1)
		go func() { // owned by the packager: Close waits; viewers may come and go
			defer p.wg.Done()
			p.fly(f, key, strings.TrimRight(base, "/")+key, r.Header.Get("User-Agent"), immutable)
		}()
	} else {
		p.metrics.edgeRequest("shared")
	}
	e.mu.Unlock()
	p.follow(w, r, f)
}

// fly runs flight f: it fetches url and appends the answer as it arrives; when
// it lands, a complete 200 of a media file goes into the cache before the
// flight is forgotten (a later request finds one or the other).
func (p *Packager) fly(f *flight, key, url, userAgent string, immutable bool) {
	e := p.edge
	ctx, cancel := context.WithTimeout(p.ctx, edgeFetchTimeout)
	defer cancel()
	err := e.fetch(ctx, f, url, userAgent)
	f.mu.Lock()
	f.done, f.err = true, err
	close(f.grew)
	body := f.body
	f.mu.Unlock()
	if err != nil {
		p.Log.Warn("edge: fetch from the holder", "url", url, "err", err)
	}
	e.mu.Lock()
	if err == nil && immutable && f.status == http.StatusOK {
		e.putLocked(key, &edgeAnswer{status: f.status, header: f.header, body: body, at: time.Now()})
	}
	delete(e.flights, key)
	e.mu.Unlock()
}

// follow streams flight f to the viewer as it arrives.
func (p *Packager) follow(w http.ResponseWriter, r *http.Request, f *flight) {
	select {
	case <-f.ready:
	case <-r.Context().Done():
		return
	}
	if f.status == 0 {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "holder not reachable", http.StatusBadGateway)
		return
	}
	h := w.Header()
	for k, v := range f.header {
		h[k] = v
	}
	if f.length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(f.length, 10))
	}
	w.WriteHeader(f.status)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	for off := 0; ; {
		f.mu.Lock()
		chunk, done, grew := f.body[off:], f.done, f.grew
		f.mu.Unlock()
		if len(chunk) > 0 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			off += len(chunk)
			_ = rc.Flush()
		}
		if done {
			return
		}
		select {
		case <-grew:
		case <-r.Context().Done():
			return
		}
	}
}

// fetch gets url from the holder into f: status and header first (ready), then
// the body as it arrives.
func (e *edge) fetch(ctx context.Context, f *flight, url, userAgent string) error {
	readied := false
	defer func() {
		if !readied {
			close(f.ready)
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent) // the holder adapts the MPD to GStreamer
	}
	res, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	f.status, f.length, f.header = res.StatusCode, res.ContentLength, http.Header{}
	for _, k := range []string{"Content-Type", "Cache-Control", "Retry-After", "Last-Modified"} {
		if v := res.Header.Get(k); v != "" {
			f.header.Set(k, v)
		}
	}
	readied = true
	close(f.ready)
	buf := make([]byte, 32<<10)
	for total := 0; ; {
		n, err := res.Body.Read(buf)
		if n > 0 {
			if total += n; total > edgeMaxBody {
				return fmt.Errorf("answer larger than %d bytes", edgeMaxBody)
			}
			f.mu.Lock()
			f.body = append(f.body, buf[:n]...)
			close(f.grew)
			f.grew = make(chan struct{})
			f.mu.Unlock()
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
	}
}

// writeEdge relays a (ranges: the whole body; players fetch whole files).
func writeEdge(w http.ResponseWriter, r *http.Request, a *edgeAnswer) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	h.Set("Content-Length", fmt.Sprint(len(a.body)))
	w.WriteHeader(a.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

// get returns the cached answer of key, nil when absent or older than edgeTTL.
func (e *edge) get(key string) *edgeAnswer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.getLocked(key, true)
}

// getLocked is get with e.mu held; it looks only when immutable.
func (e *edge) getLocked(key string, immutable bool) *edgeAnswer {
	if !immutable {
		return nil
	}
	el := e.byKey[key]
	if el == nil {
		return nil
	}
	en := el.Value.(*edgeEntry)
	if time.Since(en.a.at) > edgeTTL {
		e.remove(el)
		return nil
	}
	e.lru.MoveToFront(el)
	return en.a
}

// putLocked caches a, dropping the least recently used answers beyond
// edgeCacheBytes; e.mu is held.
func (e *edge) putLocked(key string, a *edgeAnswer) {
	if el := e.byKey[key]; el != nil {
		e.remove(el)
	}
	e.byKey[key] = e.lru.PushFront(&edgeEntry{key: key, a: a})
	e.bytes += len(a.body)
	for e.bytes > edgeCacheBytes && e.lru.Len() > 1 {
		e.remove(e.lru.Back())
	}
}

// remove drops el; e.mu is held.
func (e *edge) remove(el *list.Element) {
	en := e.lru.Remove(el).(*edgeEntry)
	delete(e.byKey, en.key)
	e.bytes -= len(en.a.body)
}
