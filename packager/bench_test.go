package packager

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/packager/dash"
	"github.com/roomcast/roomcast/packager/hls"
	"github.com/roomcast/roomcast/packager/viewers"
)

type discardSink struct{ parts int }

func (discardSink) startSegment(*segmentStart) error { return nil }
func (d *discardSink) part(*partOut) error           { d.parts++; return nil }
func (discardSink) endSegment(*segmentEnd) error     { return nil }

// loopUnits repeats the file's units with increasing timestamps.
func loopUnits(units []*hub.Unit, n int) []*hub.Unit {
	span := units[len(units)-1].DTS + 40*time.Millisecond
	out := make([]*hub.Unit, 0, n)
	for i := 0; len(out) < n; i++ {
		for _, u := range units {
			c := *u
			c.DTS += time.Duration(i) * span
			c.PTS += time.Duration(i) * span
			out = append(out, &c)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// BenchmarkSegmenterWrite is the per-frame path without IO: ns and allocs per
// unit (video frame or audio frame), fMP4 marshal of parts included.
func BenchmarkSegmenterWrite(b *testing.B) {
	tracks, units := loadFLV(b, "h264_aac.flv")
	all := loopUnits(units, 20000)
	sink := &discardSink{}
	s := newSegmenter(tracks, 2*time.Second, 200*time.Millisecond, sink)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := all[i%len(all)]
		if i%len(all) == 0 && i > 0 {
			b.StopTimer()
			s = newSegmenter(tracks, 2*time.Second, 200*time.Millisecond, sink)
			b.StartTimer()
		}
		if err := s.write(u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamWrite is the per-frame path with files: parts appended to
// segment files, snapshots published, index appended.
func BenchmarkStreamWrite(b *testing.B) {
	tracks, units := loadFLV(b, "h264_aac.flv")
	all := loopUnits(units, 20000)
	p := &Packager{Dir: b.TempDir(), VerifyToken: verifyTestToken}
	if err := p.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	newSt := func() *stream {
		hs := &hub.Stream{Key: "1", Tracks: tracks}
		if err := hs.Initialize(); err != nil {
			b.Fatal(err)
		}
		st := newStream(p, "1", hs, b.TempDir())
		st.bind(Session{AppID: 1, RoomUUID: testRoom, SessionNo: 1})
		return st
	}
	st := newSt()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := all[i%len(all)]
		if i%len(all) == 0 && i > 0 {
			b.StopTimer()
			st.end(nil)
			st = newSt()
			b.StartTimer()
		}
		if err := st.seg.write(u); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st.end(nil)
}

func benchEnv(b *testing.B) (*Packager, *stream) { return benchEnvWith(b, nil) }

// benchEnvWith is benchEnv with mod applied to the Packager before Initialize.
func benchEnvWith(b *testing.B, mod func(*Packager)) (*Packager, *stream) {
	tracks, units := loadFLV(b, "h264_aac.flv")
	all := loopUnits(units, 2000) // ~40 s: a full live window of 6 segments
	p := &Packager{Dir: b.TempDir(), VerifyToken: verifyTestToken}
	if mod != nil {
		mod(p)
	}
	if err := p.Initialize(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	hs := &hub.Stream{Key: "1", Tracks: tracks}
	if err := hs.Initialize(); err != nil {
		b.Fatal(err)
	}
	st := newStream(p, "1", hs, b.TempDir())
	st.bind(Session{AppID: testAppID, RoomUUID: testRoom, SessionNo: 1})
	p.bySession[sessionKey(testRoom, 1)] = st
	for _, u := range all {
		if err := st.seg.write(u); err != nil {
			b.Fatal(err)
		}
	}
	return p, st
}

// BenchmarkMediaPlaylistRender renders a live LL-HLS media playlist (6 segments,
// parts of the last 2 and of the segment in progress) from scratch.
func BenchmarkMediaPlaylistRender(b *testing.B) {
	_, st := benchEnv(b)
	tl := st.tl.tl
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := hls.Media(tl, 0, hls.Options{Query: "streamingToken=abc", LowLatency: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMPDRender renders the dynamic MPD of a live window from scratch.
func BenchmarkMPDRender(b *testing.B) {
	_, st := benchEnv(b)
	tl := st.tl.tl
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := dash.MPD(tl, dash.Options{Query: "streamingToken=abc", TimeURL: "http://h/time"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlaylistRequest is a full media playlist request through the handler
// (routing, token check, cached template filled with the token), in parallel.
func BenchmarkPlaylistRequest(b *testing.B) {
	p, _ := benchEnv(b)
	h := p.Handler()
	url := "/live/" + testRoom + "/1/video1.m3u8?streamingToken=" + testToken
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, url, nil))
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
}

// BenchmarkBlockingPlaylistRequest is a blocking reload for a part that exists
// (answered at once), in parallel.
func BenchmarkBlockingPlaylistRequest(b *testing.B) {
	p, st := benchEnv(b)
	h := p.Handler()
	c := st.tl.tl.Current
	url := "/live/" + testRoom + "/1/audio2.m3u8?streamingToken=" + testToken +
		"&_HLS_msn=" + strconv.FormatUint(c.MSN, 10) + "&_HLS_part=" + strconv.Itoa(len(c.Parts)-1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, url, nil))
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
}

// BenchmarkViewerCounting is a live playback request through the handler with
// viewer counting off and on (a real viewers.Counter: OnViewer → See), in
// parallel, 1000 viewers (member tokens) taking turns: a media playlist and a
// complete segment (served from disk).
func BenchmarkViewerCounting(b *testing.B) {
	for _, file := range []string{"video1.m3u8", "segment"} {
		for _, on := range []bool{false, true} {
			name := file + "/counting=off"
			if on {
				name = file + "/counting=on"
			}
			b.Run(name, func(b *testing.B) { benchViewerCounting(b, file, on) })
		}
	}
}

func benchViewerCounting(b *testing.B, file string, on bool) {
	var mod func(*Packager)
	if on {
		c := &viewers.Counter{}
		if err := c.Initialize(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		c.Begin(testRoom)
		mod = func(p *Packager) { p.OnViewer = c.See }
	}
	p, st := benchEnvWith(b, mod)
	h := p.Handler()
	if file == "segment" { // the last complete one of the live window
		tl := st.tl.tl
		file = "video1_" + strconv.FormatUint(tl.Current.MSN-1, 10) + ".m4s"
	}
	urls := make([]string, 1000)
	for i := range urls {
		urls[i] = "/live/" + testRoom + "/1/" + file + "?streamingToken=member-" + strconv.Itoa(i+1)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, urls[next.Add(1)%int64(len(urls))], nil))
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
}
