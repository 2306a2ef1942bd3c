package packager

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestEdgeServesHolderSessions: a packager that does not hold a session serves it
// from the node that does, with the same URLs: playlists (the holder checks the
// token) and signed media files. Concurrent requests for one file make one
// upstream fetch, a later one comes from the edge cache; an unknown session
// stays 404 and a bad token is refused by the holder.
func TestEdgeServesHolderSessions(t *testing.T) {
	key := func(p *Packager) { p.SignKey = []byte("one key for the whole cluster....") }
	holder := newTestEnv(t, key)
	tracks, units := loadFLV(t, "h264_aac.flv")
	holder.feed(tracks, units, true)
	var upstream sync.Map // path → *atomic.Int64
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := upstream.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		holder.p.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)
	edge := newTestEnv(t, func(p *Packager) {
		key(p)
		p.Upstream = func(_ context.Context, room string, no int) (string, error) {
			if room == testRoom && no == testSessionNo {
				return counting.URL, nil
			}
			return "", nil
		}
	})
	fetches := func(path string) int64 {
		n, ok := upstream.Load(path)
		if !ok {
			return 0
		}
		return n.(*atomic.Int64).Load()
	}

	direct, code := holder.get(holder.liveURL("video1.m3u8", testToken))
	viaEdge, code2 := edge.get(edge.liveURL("video1.m3u8", testToken))
	if code != 200 || code2 != 200 || direct != viaEdge {
		t.Fatalf("media playlist: holder %d, edge %d, same body %v", code, code2, direct == viaEdge)
	}
	if _, code := edge.get(edge.liveURL("video1.m3u8", "garbage")); code != http.StatusUnauthorized {
		t.Fatalf("bad token through the edge: %d, want 401", code)
	}
	if _, code := edge.get(edge.srv.URL + "/live/" + testRoom + "/2/index.m3u8?streamingToken=" + testToken); code != http.StatusNotFound {
		t.Fatalf("unknown session through the edge: %d, want 404", code)
	}

	var file string
	for _, l := range strings.Split(direct, "\n") {
		if strings.HasPrefix(l, "video1_") && strings.Contains(l, "sig=") {
			file = l
		}
	}
	if file == "" {
		t.Fatalf("no signed segment in:\n%s", direct)
	}
	u := edge.srv.URL + "/live/" + testRoom + "/1/" + file
	path := "/live/" + testRoom + "/1/" + strings.Split(file, "?")[0]
	want, _ := holder.get(holder.srv.URL + "/live/" + testRoom + "/1/" + file)
	var wg sync.WaitGroup
	bodies := make([]string, 20)
	for i := range bodies {
		wg.Go(func() {
			b, code := edge.get(u)
			if code != 200 {
				t.Errorf("segment through the edge: %d", code)
			}
			bodies[i] = b
		})
	}
	wg.Wait()
	for _, b := range bodies {
		if b != want {
			t.Fatal("segment through the edge differs from the holder's")
		}
	}
	if n := fetches(path); n != 1 {
		t.Fatalf("20 concurrent viewers of one segment made %d upstream fetches, want 1", n)
	}
	if b, _ := edge.get(u); b != want || fetches(path) != 1 {
		t.Fatalf("a later request was not served from the edge cache (%d fetches)", fetches(path))
	}
}

// TestEdgeStreamsChunkedAnswers: an answer the holder sends as it is produced (the
// LL-DASH segment in progress) reaches the viewers of an edge as it arrives, not
// when it is complete, and two viewers share one fetch.
func TestEdgeStreamsChunkedAnswers(t *testing.T) {
	release := make(chan struct{})
	var fetches atomic.Int64
	holder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "video/mp4")
		_, _ = w.Write([]byte("first part;"))
		http.NewResponseController(w).Flush()
		<-release
		_, _ = w.Write([]byte("second part"))
	}))
	t.Cleanup(holder.Close)
	edge := newTestEnv(t, func(p *Packager) {
		p.Upstream = func(context.Context, string, int) (string, error) { return holder.URL, nil }
	})
	u := edge.liveURL("video1_d5.m4s", testToken)
	read := func(res *http.Response, n int) string {
		b := make([]byte, n)
		if _, err := io.ReadFull(res.Body, b); err != nil {
			t.Fatalf("read %d bytes: %v", n, err)
		}
		return string(b)
	}
	var viewers []*http.Response
	for range 2 {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		viewers = append(viewers, res)
	}
	for i, res := range viewers {
		if got := read(res, len("first part;")); got != "first part;" {
			t.Fatalf("viewer %d got %q before the holder finished", i, got)
		}
	}
	close(release)
	for i, res := range viewers {
		rest, err := io.ReadAll(res.Body)
		if err != nil || string(rest) != "second part" {
			t.Fatalf("viewer %d: rest %q, %v", i, rest, err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("two viewers made %d fetches, want 1", n)
	}
}
