package packager

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/packager/timeline"
	"github.com/roomcast/roomcast/packager/vod"
)

// videoKeys returns the DTS of the video key frames, in order.
func videoKeys(units []*hub.Unit) []time.Duration {
	var keys []time.Duration
	for _, u := range units {
		if u.Track.IsVideo() && u.Key {
			keys = append(keys, u.DTS)
		}
	}
	return keys
}

// firstVideoBase returns the media time of the first indexed segment's video.
func firstVideoBase(t *testing.T, idx *timeline.Index) time.Duration {
	t.Helper()
	if len(idx.Segments) == 0 || len(idx.Versions) == 0 {
		t.Fatalf("index: %d segments, %d versions", len(idx.Segments), len(idx.Versions))
	}
	for i, tr := range idx.Versions[0].Tracks {
		if tr.Kind == timeline.KindVideo {
			return timeline.TicksToDuration(idx.Segments[0].Tracks[i].BaseTime, tr.TimeScale)
		}
	}
	t.Fatal("no video track")
	return 0
}

// TestBindAdoptsGOPInProgress feeds a stream as a preview, binds it at several
// points and checks that the session starts with the key frame of the GOP in
// progress at Bind: the preview segments of that GOP are linked into the session
// directory and indexed, the session is contiguous to the end, its VOD builds, and
// Bind itself touched no file.
func TestBindAdoptsGOPInProgress(t *testing.T) {
	tracks, units := loadFLV(t, "h264_aac.flv")
	keys := videoKeys(units)
	last := units[len(units)-1].DTS
	cases := []struct {
		name   string
		bindAt time.Duration // media time of the first unit written after Bind
		want   time.Duration // first key frame of the session
		record bool          // RecordOnly (mode=RTMP)
	}{
		{"in the short first segment", 100 * time.Millisecond, keys[0], false},
		{"first GOP after its short first segment", time.Second, keys[0], false},
		{"third GOP", keys[2] + time.Second, keys[2], false},
		{"record only", keys[1] + 500*time.Millisecond, keys[1], true},
		{"after the last unit", time.Hour, keys[len(keys)-1], false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			hs := &hub.Stream{Key: testStreamID, Tracks: tracks}
			if err := hs.Initialize(); err != nil {
				t.Fatal(err)
			}
			preview := filepath.Join(e.p.Dir, previewDirName, "test")
			st := newStream(e.p, testStreamID, hs, preview)
			e.p.mu.Lock()
			e.p.byStream[testStreamID] = st
			e.p.mu.Unlock()
			sessDir := filepath.Join(e.p.Dir, testRoom, strconv.Itoa(testSessionNo))
			base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			bound := false
			for _, u := range units {
				if !bound && u.DTS >= c.bindAt {
					bind(t, e, sessDir, c.record)
					bound = true
				}
				cu := *u
				cu.NTP = base.Add(u.DTS)
				if err := st.seg.write(&cu); err != nil {
					t.Fatal(err)
				}
			}
			if !bound {
				bind(t, e, sessDir, c.record)
			}
			st.end(nil)

			idx, err := timeline.ReadIndex(sessDir)
			if err != nil {
				t.Fatal(err)
			}
			got := firstVideoBase(t, idx)
			t.Logf("bound at %v: session starts at %v (%d segments, first MSN %d)", c.bindAt, got,
				len(idx.Segments), idx.Segments[0].MSN)
			if got != c.want || idx.Segments[0].NotIndependent || idx.Ended.IsZero() {
				t.Errorf("session starts at %v (independent %v, ended %v), want the key frame at %v",
					got, !idx.Segments[0].NotIndependent, idx.Ended, c.want)
			}
			var sum time.Duration
			for i, seg := range idx.Segments {
				if i > 0 && seg.MSN != idx.Segments[i-1].MSN+1 {
					t.Errorf("segment %d follows %d", seg.MSN, idx.Segments[i-1].MSN)
				}
				sum += seg.Duration
				for _, tr := range seg.Tracks {
					fi, err := os.Stat(filepath.Join(sessDir, tr.File))
					if err != nil || fi.Size() != tr.Size {
						t.Errorf("segment %d: %s: %v (%d bytes indexed)", seg.MSN, tr.File, err, tr.Size)
					}
					// an adopted file is the preview's (a hard link, not a copy)
					if pi, err := os.Stat(filepath.Join(preview, tr.File)); err == nil && !os.SameFile(fi, pi) {
						t.Errorf("%s differs from its preview", tr.File)
					}
				}
			}
			// the last video sample lasts one frame (33 ms) past the last unit
			if d := last + 33*time.Millisecond - c.want; sum < d-40*time.Millisecond || sum > d+40*time.Millisecond {
				t.Errorf("session lasts %v, want %v (from %v to the end)", sum, d, c.want)
			}
			m, err := vod.Build(context.Background(), vod.DirStore(e.p.Dir), testRoom)
			if err != nil {
				t.Fatal(err)
			}
			if m.Duration() != sum || m.Sessions[0].Recovered != 0 || m.Sessions[0].Skipped != 0 {
				t.Errorf("VOD %v, report %+v; session %v", m.Duration(), m.Sessions[0], sum)
			}
			// the live window now names the session's files
			v, _ := st.snapshot()
			for _, seg := range v.tl.Segments {
				if seg.MSN >= idx.Segments[0].MSN && seg.Dir != sessDir {
					t.Errorf("window segment %d still in %s", seg.MSN, seg.Dir)
				}
			}
			want := http.StatusOK
			if c.record {
				want = http.StatusNotFound
			}
			if _, code := e.get(e.liveURL("video1.m3u8", testToken)); code != want {
				t.Errorf("live playlist: %d, want %d", code, want)
			}
		})
	}
}

// bind binds the test session through the public API and checks that Bind did no
// file work (the segmenter goroutine does it).
func bind(t *testing.T, e *testEnv, sessDir string, recordOnly bool) {
	t.Helper()
	e.p.Bind(testStreamID, Session{AppID: testAppID, RoomUUID: testRoom, SessionNo: testSessionNo, RecordOnly: recordOnly})
	if _, err := os.Stat(sessDir); !os.IsNotExist(err) {
		t.Errorf("Bind touched the session directory: %v", err)
	}
}

// TestAttachSeesTheFirstUnit writes units right after Attach returns (as the
// publisher writes the units it buffered while detecting its tracks): the session
// (bound before Attach, a resume) starts at the stream's first key frame.
func TestAttachSeesTheFirstUnit(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.p.Bind(testStreamID, Session{AppID: testAppID, RoomUUID: testRoom, SessionNo: testSessionNo})
	s := &hub.Stream{Key: testStreamID, Tracks: tracks, QueueSize: 4096}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	e.p.Attach(testStreamID, s)
	if n := s.ReaderCount(); n != 1 {
		t.Errorf("%d readers when Attach returned, want 1", n)
	}
	for _, u := range units[:100] {
		c := *u
		c.NTP = time.Now()
		s.Write(&c)
	}
	s.Close()
	e.waitEnded("video1")
	idx, err := timeline.ReadIndex(filepath.Join(e.p.Dir, testRoom, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := firstVideoBase(t, idx), videoKeys(units)[0]; got != want {
		t.Errorf("session starts at %v, want the first key frame %v", got, want)
	}
}

// TestPlayURLBeforeAttach: control binds a resumed session (and shows its play URL)
// before the publisher's stream is attached. A viewer asking then must not get a
// 404: the request waits for the stream and its first content, and plays.
func TestPlayURLBeforeAttach(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.p.Bind(testStreamID, Session{AppID: testAppID, RoomUUID: testRoom, SessionNo: testSessionNo})
	type result struct {
		body string
		code int
	}
	got := make(chan result, 1)
	go func() {
		res, err := http.Get(e.liveURL("index.m3u8", testToken))
		if err != nil {
			got <- result{err.Error(), 0}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		got <- result{string(b), res.StatusCode}
	}()
	// the request is waiting before the stream exists
	deadline := time.Now().Add(5 * time.Second)
	for e.p.waiting.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the viewer's request did not wait for the pending session")
		}
		time.Sleep(time.Millisecond)
	}
	s := e.startStream(tracks, false)
	publish(s, units, 0)
	r := <-got
	if r.code != http.StatusOK || !strings.Contains(r.body, "#EXT-X-STREAM-INF") {
		t.Fatalf("play URL before attach: %d %q", r.code, r.body)
	}
	s.Close()
	// a session never bound is still a 404 at once
	if _, code := e.get(e.srv.URL + "/live/" + testRoom + "/9/index.m3u8?streamingToken=" + testToken); code != http.StatusNotFound {
		t.Fatalf("unknown session: %d", code)
	}
}
