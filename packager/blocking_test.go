package packager

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/packager/timeline"
)

// lastPartOf parses a media playlist and returns its last MSN, last part index and
// the URIs it lists.
func lastPartOf(t *testing.T, body string) (msn, part int, pl *playlist.Media) {
	t.Helper()
	pl = &playlist.Media{}
	if err := pl.Unmarshal([]byte(body)); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	msn = pl.MediaSequence + len(pl.Segments)
	return msn, len(pl.Parts) - 1, pl
}

// feeder feeds units into a stream step by step.
type feeder struct {
	t     *testing.T
	st    *stream
	units []*hub.Unit
	next  int
}

func (f *feeder) until(d time.Duration) {
	for f.next < len(f.units) && f.units[f.next].DTS < d {
		c := *f.units[f.next]
		c.NTP = time.Now()
		if err := f.st.seg.write(&c); err != nil {
			f.t.Error(err)
			return
		}
		f.next++
	}
}

func (e *testEnv) waitWaiters(n int64) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.p.waiting.Load() != n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d waiting requests, want %d", e.p.waiting.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type result struct {
	code int
	body string
}

func (e *testEnv) getAsync(url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		res, err := http.Get(url)
		if err != nil {
			ch <- result{code: -1, body: err.Error()}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ch <- result{res.StatusCode, string(b)}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("request not answered")
		return result{}
	}
}

func TestBlockingReload(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	st := e.feed(tracks, nil, false)
	f := &feeder{t: t, st: st, units: units}
	f.until(3 * time.Second)

	body, code := e.get(e.liveURL("video1.m3u8", testToken))
	if code != http.StatusOK {
		t.Fatalf("playlist: %d %s", code, body)
	}
	msn, part, _ := lastPartOf(t, body)
	u := e.liveURL("video1.m3u8", testToken) + "&_HLS_msn=" + strconv.Itoa(msn) + "&_HLS_part=" + strconv.Itoa(part+1)
	ch := e.getAsync(u)
	e.waitWaiters(1)
	select {
	case r := <-ch:
		t.Fatalf("answered before the part existed: %d", r.code)
	default:
	}
	f.until(3500 * time.Millisecond)
	r := recv(t, ch)
	if r.code != http.StatusOK {
		t.Fatalf("blocking reload: %d %s", r.code, r.body)
	}
	msn2, part2, pl := lastPartOf(t, r.body)
	if msn2 != msn || part2 < part+1 {
		t.Fatalf("got msn %d part %d, asked for %d/%d", msn2, part2, msn, part+1)
	}
	if strings.Contains(r.body, "_HLS_") {
		t.Fatal("delivery directives copied into the playlist")
	}
	if pl.PreloadHint == nil || !strings.Contains(pl.PreloadHint.URI, "streamingToken=") {
		t.Fatal("preload hint missing or without token")
	}
	e.waitWaiters(0)

	// an already available part is answered at once, a whole-segment request too
	if _, code := e.get(e.liveURL("video1.m3u8", testToken) + "&_HLS_msn=" + strconv.Itoa(msn-1)); code != http.StatusOK {
		t.Fatalf("past msn: %d", code)
	}
	// a part index past the last part of a complete segment means the next segment
	if _, code := e.get(e.liveURL("video1.m3u8", testToken) + "&_HLS_msn=" + strconv.Itoa(msn-1) + "&_HLS_part=50"); code != http.StatusOK {
		t.Fatalf("past part: %d", code)
	}

	// the preload-hinted part is served as soon as it exists
	body, _ = e.get(e.liveURL("video1.m3u8", testToken))
	_, _, pl = lastPartOf(t, body)
	hint := pl.PreloadHint.URI
	pch := e.getAsync(e.srv.URL + "/live/" + testRoom + "/1/" + hint)
	e.waitWaiters(1)
	f.until(4 * time.Second)
	if r := recv(t, pch); r.code != http.StatusOK || len(r.body) < 100 {
		t.Fatalf("preload hint part: %d, %d bytes", r.code, len(r.body))
	}
}

func TestBlockingReloadBadInput(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	st := e.feed(tracks, nil, false)
	(&feeder{t: t, st: st, units: units}).until(5 * time.Second)
	last := int(st.tl.tl.LastMSN())
	base := e.liveURL("video1.m3u8", testToken)
	for _, q := range []string{
		"&_HLS_msn=abc", "&_HLS_msn=-1", "&_HLS_msn=1.5", "&_HLS_msn=", "&_HLS_part=1",
		"&_HLS_msn=1&_HLS_part=x", "&_HLS_msn=99999999999999999999999",
		"&_HLS_msn=" + strconv.Itoa(last+3), "&_HLS_msn=1&_HLS_part=100000",
	} {
		if body, code := e.get(base + q); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
	if e.p.waiting.Load() != 0 {
		t.Fatal("bad requests left waiters")
	}
}

func TestBlockingReloadBoundedAndReleased(t *testing.T) {
	e := newTestEnv(t, func(p *Packager) { p.blockTimeout = 300 * time.Millisecond })
	tracks, units := loadFLV(t, "h264_aac.flv")
	st := e.feed(tracks, nil, false)
	(&feeder{t: t, st: st, units: units}).until(5 * time.Second)
	next := strconv.Itoa(int(st.tl.tl.LastMSN()) + 1)

	// nothing comes: the wait is bounded
	r := recv(t, e.getAsync(e.liveURL("video1.m3u8", testToken)+"&_HLS_msn="+next))
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("bounded wait: %d", r.code)
	}

	// many waiters are all released when the publish stops
	e.p.blockTimeout = time.Minute
	const n = 200
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := <-e.getAsync(e.liveURL("audio2.m3u8", testToken) + "&_HLS_msn=" + next + "&_HLS_part=0")
			if !strings.Contains(r.body, "#EXT-X-ENDLIST") {
				codes <- -r.code
				return
			}
			codes <- r.code
		}()
	}
	e.waitWaiters(n)
	st.end(nil)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("released waiter got %d", c)
		}
	}
	e.waitWaiters(0)
	_ = timeline.IndexFile
}
