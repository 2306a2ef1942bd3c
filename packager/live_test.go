package packager

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/packager/timeline"
)

// TestLiveLowLatencyClient plays the live stream with gohlslib's client while it
// is published in real time: the client uses blocking reloads and preload hints,
// and what it decodes is a contiguous run of what was published.
func TestLiveLowLatencyClient(t *testing.T) {
	t.Parallel() // real time
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	s := e.startStream(tracks, true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		publish(s, units, 1)
		s.Close()
	}()
	defer func() { <-done }()

	// the first segment takes 2 s; the multivariant playlist waits for it
	rc, _ := readHLS(t, e.liveURL("index.m3u8", testToken), 15*time.Second)
	<-done
	if len(rc.badURLs) > 0 {
		t.Fatalf("requests without the token: %v", rc.badURLs[:min(3, len(rc.badURLs))])
	}
	parts := 0
	for _, u := range rc.urls {
		if strings.Contains(u, "_p") {
			parts++
		}
	}
	if parts == 0 {
		t.Fatal("the client fetched no parts (not low-latency)")
	}
	for _, tr := range tracks {
		k := kindOf(tr)
		// gohlslib's client follows preload hints and may skip a part when the
		// playlist advanced by two while it downloaded one; it must never invent one.
		subsetTimeline(t, k, rc.pts[k], publishedPTS(packaged(units), k))
		if n := len(rc.pts[k]); n < len(publishedPTS(units, k))/3 {
			t.Fatalf("%s: only %d access units", k, n)
		}
	}
	st := e.p.lookup(testRoom, testSessionNo)
	p50, p99, n := st.delayPercentiles()
	t.Logf("part listed after the unit that completes it: p50 %v p99 %v (%d parts)", p50, p99, n)
}

// TestPreviewThenBind publishes unbound (preview), binds mid-stream: the session
// plays at once from preview segments, and only the GOP in progress at Bind and
// what follows are indexed (TestBindAdoptsGOPInProgress pins the exact start).
func TestPreviewThenBind(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	s := e.startStream(tracks, false)
	half := 0
	for half < len(units) && units[half].DTS < 5*time.Second {
		half++
	}
	publish(s, units[:half], 0)
	// wait until the preview has segments
	e.p.mu.Lock()
	st := e.p.byStream[testStreamID]
	e.p.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for v, _ := st.snapshot(); len(v.tl.Segments) < 2; v, _ = st.snapshot() {
		if time.Now().After(deadline) {
			t.Fatal("no preview segments")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, code := e.get(e.liveURL("index.m3u8", testToken)); code != http.StatusNotFound {
		t.Fatalf("unbound stream served: %d", code)
	}
	e.p.Bind(testStreamID, Session{AppID: testAppID, RoomUUID: testRoom, SessionNo: testSessionNo})
	body, code := e.get(e.liveURL("video1.m3u8", testToken))
	if code != http.StatusOK || !strings.Contains(body, "video1_0.m4s") {
		t.Fatalf("preview not playable right after Bind: %d\n%s", code, body)
	}
	if _, code := e.get(e.liveURL("video1_0.m4s", testToken)); code != http.StatusOK {
		t.Fatalf("preview segment: %d", code)
	}
	publish(s, units[half:], 0)
	s.Close()
	e.waitEnded("video1")
	idx, err := timeline.ReadIndex(filepath.Join(e.p.Dir, testRoom, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Segments) == 0 || idx.Segments[0].MSN < 2 || idx.Segments[0].NotIndependent || idx.Ended.IsZero() {
		t.Fatalf("index: %d segments, first %d", len(idx.Segments), idx.Segments[0].MSN)
	}
	for _, seg := range idx.Segments {
		if seg.PDT.Before(idx.Segments[0].PDT) {
			t.Fatal("segments out of order")
		}
	}
	if _, err := os.Stat(filepath.Join(e.p.Dir, testRoom, "1", "video1_0.m4s")); err == nil {
		t.Fatal("a preview segment was written to the session directory")
	}
}
