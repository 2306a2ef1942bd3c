package packager

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Any node of a cluster serves any live session. A request for a session this
// node does not package is served by fetching the same path and query from the
// node that does (Packager.Upstream names it): the holder checks the token or
// signature as for its own viewers. Concurrent identical requests (the same
// signed segment or part for every viewer, the same blocking reload) make one
// upstream fetch (singleflight), and media files, immutable, are kept for
// edgeTTL in a cache bounded by edgeCacheBytes, so an edge node fetches each
// file about once however many viewers it serves.

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
	flight singleflight.Group

	mu    sync.Mutex
	lru   *list.List // of *edgeEntry, most recent first
	byKey map[string]*list.Element
	bytes int
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
		lru:   list.New(),
		byKey: map[string]*list.Element{},
	}
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
	v, err, shared := e.flight.Do(key, func() (any, error) {
		p.metrics.edgeRequest("fetch")
		// Not the viewer's context: other viewers may wait on this fetch.
		ctx, cancel := context.WithTimeout(p.ctx, edgeFetchTimeout)
		defer cancel()
		a, err := e.fetch(ctx, strings.TrimRight(base, "/")+key, r.Header.Get("User-Agent"))
		if err == nil && immutable && a.status == http.StatusOK {
			e.put(key, a) // before the flight lands: a request after it finds the cache
		}
		return a, err
	})
	if shared {
		p.metrics.edgeRequest("shared")
	}
	if err != nil {
		p.Log.Warn("edge: fetch from the holder", "url", base+r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "holder not reachable", http.StatusBadGateway)
		return
	}
	writeEdge(w, r, v.(*edgeAnswer))
}

// fetch gets url from the holder.
func (e *edge) fetch(ctx context.Context, url, userAgent string) (*edgeAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent) // the holder adapts the MPD to GStreamer
	}
	res, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, edgeMaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(body) > edgeMaxBody {
		return nil, fmt.Errorf("answer larger than %d bytes", edgeMaxBody)
	}
	h := http.Header{}
	for _, k := range []string{"Content-Type", "Cache-Control", "Retry-After", "Last-Modified"} {
		if v := res.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return &edgeAnswer{status: res.StatusCode, header: h, body: body, at: time.Now()}, nil
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

// put caches a, dropping the least recently used answers beyond edgeCacheBytes.
func (e *edge) put(key string, a *edgeAnswer) {
	e.mu.Lock()
	defer e.mu.Unlock()
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
