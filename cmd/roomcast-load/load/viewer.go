package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// reqKind is the kind of an HLS request, for per-kind latency and errors.
type reqKind int

// Request kinds.
const (
	kindMultivariant reqKind = iota
	kindPlaylist             // non-blocking media playlist
	kindBlocking             // blocking reload (_HLS_msn/_HLS_part)
	kindInit
	kindPart
	kindSegment
	numKinds
)

var kindNames = [numKinds]string{"multivariant", "playlist", "playlist_blocking", "init", "part", "segment"}

func (k reqKind) String() string { return kindNames[k] }

type kindStats struct {
	latency        Histogram
	errors, bytes  atomic.Int64
	statusErrors   atomic.Int64 // HTTP status ≥ 400
	transportError atomic.Int64 // refused, reset, timeout
}

// viewStats aggregate the viewers of one stream.
type viewStats struct {
	kinds         [numKinds]kindStats
	partAge       Histogram // playlist arrival − part end (PROGRAM-DATE-TIME based)
	segmentAge    Histogram // playlist arrival − segment end
	firstPlayable Histogram // first publish → first media object fetched
	startRetries  atomic.Int64
	startFailures atomic.Int64
	skipped       atomic.Int64 // parts/segments not loaded: the track's queue was full
	running       atomic.Int64

	mu      sync.Mutex
	lastErr string
}

func (s *viewStats) setErr(err error) {
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
}

func (s *viewStats) err() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// statusError is an HTTP answer ≥ 400.
type statusError struct {
	code int
	url  string
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: HTTP %d", e.url, e.code) }

// fetcher performs the HTTP GETs of one viewer and records them in stats.
type fetcher struct {
	client  *http.Client
	stats   *viewStats
	timeout time.Duration
	log     *slog.Logger
}

// get fetches u; it returns the body, the time the response headers arrived, and an
// error (counted unless ctx ended). extra lengthens the timeout (blocking reloads).
func (f *fetcher) get(ctx context.Context, kind reqKind, u string, extra time.Duration) ([]byte, time.Time, error) {
	ks := &f.stats.kinds[kind]
	body, at, err := f.do(ctx, u, f.timeout+extra)
	if ctx.Err() != nil {
		return nil, at, ctx.Err()
	}
	if err != nil {
		ks.errors.Add(1)
		var se *statusError
		if errors.As(err, &se) {
			ks.statusErrors.Add(1)
		} else {
			ks.transportError.Add(1)
		}
		f.stats.setErr(fmt.Errorf("%s: %s", kind, redactErr(err)))
		return nil, at, err
	}
	ks.bytes.Add(int64(len(body)))
	return body, at, nil
}

func (f *fetcher) do(ctx context.Context, u string, timeout time.Duration) ([]byte, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	resp, err := f.client.Do(req)
	at := time.Now()
	if err != nil {
		return nil, at, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, at, fmt.Errorf("read %s: %w", u, err)
	}
	if resp.StatusCode >= 400 {
		return nil, at, &statusError{code: resp.StatusCode, url: u}
	}
	return body, at, nil
}

// timedGet is get plus its latency (request start to end of body) in the kind's histogram.
func (f *fetcher) timedGet(ctx context.Context, kind reqKind, u string, extra time.Duration) ([]byte, time.Time, error) {
	start := time.Now()
	body, at, err := f.get(ctx, kind, u, extra)
	if err == nil {
		f.stats.kinds[kind].latency.Observe(time.Since(start))
	}
	return body, at, err
}

// redactErr hides streamingToken values in URLs inside error texts.
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %s: %v", ue.Op, redactURL(ue.URL, ""), ue.Err)
	}
	var se *statusError
	if errors.As(err, &se) {
		return fmt.Sprintf("GET %s: HTTP %d", redactURL(se.url, ""), se.code)
	}
	return err.Error()
}

// resolve resolves ref against base (a playlist URL).
func resolve(base *url.URL, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("playlist URI %q: %w", ref, err)
	}
	return base.ResolveReference(r).String(), nil
}

// withQuery returns u with extra query parameters appended (the token is kept).
func withQuery(u *url.URL, kv ...string) string {
	c := *u
	q := c.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	c.RawQuery = q.Encode()
	return c.String()
}
