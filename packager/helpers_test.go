package packager

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
)

const (
	testToken      = "good-token"
	otherAppToken  = "other-app-token"
	testAppID      = 7
	testRoom       = "0b6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e4f"
	testStreamID   = "42"
	testSessionNo  = 1
	testdataPrefix = "../testdata/"
)

var errBadToken = errors.New("bad token")

// verifyTestToken knows testToken (member 1 of testAppID), otherAppToken
// (member 2 of another app) and "member-N" (member N of testAppID).
func verifyTestToken(tok string) (appID, memberID uint64, err error) {
	switch tok {
	case testToken:
		return testAppID, 1, nil
	case otherAppToken:
		return testAppID + 1, 2, nil
	}
	if n, ok := strings.CutPrefix(tok, "member-"); ok {
		if id, err := strconv.ParseUint(n, 10, 64); err == nil {
			return testAppID, id, nil
		}
	}
	return 0, 0, errBadToken
}

// loadFLV demuxes a testdata file into units and the tracks they use.
func loadFLV(t testing.TB, name string) ([]*hub.Track, []*hub.Unit) {
	t.Helper()
	tags, err := flv.ReadFile(testdataPrefix + name)
	if err != nil {
		t.Fatal(err)
	}
	d := &flv.Demuxer{}
	var units []*hub.Unit
	var tracks []*hub.Track
	for _, tag := range tags {
		u, err := d.Push(tag)
		if err != nil {
			t.Fatalf("demux %s: %v", name, err)
		}
		if u == nil {
			continue
		}
		known := false
		for _, tr := range tracks {
			known = known || tr == u.Track
		}
		if !known {
			tracks = append(tracks, u.Track)
		}
		units = append(units, u)
	}
	// video first, as ingest registers them
	if len(tracks) == 2 && !tracks[0].IsVideo() {
		tracks[0], tracks[1] = tracks[1], tracks[0]
	}
	return tracks, units
}

// packaged returns the units the packager is expected to keep: with video, units
// of other tracks older than the first video keyframe are dropped (the stream
// starts at that keyframe).
func packaged(units []*hub.Unit) []*hub.Unit {
	var start time.Duration = -1
	for _, u := range units {
		if u.Track.IsVideo() && u.Key {
			start = u.DTS
			break
		}
	}
	var out []*hub.Unit
	for _, u := range units {
		if start < 0 || u.DTS >= start {
			out = append(out, u)
		}
	}
	return out
}

// testEnv is a packager behind a real HTTP server.
type testEnv struct {
	t   *testing.T
	p   *Packager
	srv *httptest.Server
}

func newTestEnv(t *testing.T, mod func(*Packager)) *testEnv {
	t.Helper()
	p := &Packager{
		Dir:         t.TempDir(),
		VerifyToken: verifyTestToken,
		Log:         slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		RoomInfo: func(_ context.Context, room string) (RoomInfo, error) {
			if room != testRoom {
				return RoomInfo{}, ErrRoomNotFound
			}
			return RoomInfo{AppID: testAppID, Title: "Test room", State: "LIVE",
				PlayURL: "http://x/live/" + testRoom + "/1/index.m3u8"}, nil
		},
	}
	if os.Getenv("PACKAGER_TEST_LOG") != "" {
		p.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(p)
	}
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	e := &testEnv{t: t, p: p, srv: srv}
	t.Cleanup(func() {
		srv.Close()
		p.Close()
	})
	return e
}

// startStream registers a hub stream with the tracks, attaches it and binds it.
func (e *testEnv) startStream(tracks []*hub.Track, bind bool) *hub.Stream {
	e.t.Helper()
	s := &hub.Stream{Key: testStreamID, Tracks: tracks, QueueSize: 4096}
	if err := s.Initialize(); err != nil {
		e.t.Fatal(err)
	}
	e.p.Attach(testStreamID, s)
	if bind {
		e.p.Bind(testStreamID, Session{AppID: testAppID, RoomUUID: testRoom, SessionNo: testSessionNo})
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.ReaderCount() == 0 {
		if time.Now().After(deadline) {
			e.t.Fatal("packager did not attach a reader")
		}
		time.Sleep(time.Millisecond)
	}
	return s
}

// publish writes units paced by their DTS divided by speed (0: as fast as
// possible, yielding so the reader keeps up), with NTP set at write time.
func publish(s *hub.Stream, units []*hub.Unit, speed float64) {
	start := time.Now()
	for _, u := range units {
		if speed > 0 {
			if d := time.Duration(float64(u.DTS)/speed) - time.Since(start); d > 0 {
				time.Sleep(d)
			}
		}
		c := *u
		c.NTP = time.Now()
		s.Write(&c)
		if speed == 0 {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// waitEnded waits until the session's playlist shows EXT-X-ENDLIST.
func (e *testEnv) waitEnded(track string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		body, code := e.get(e.liveURL(track+".m3u8", testToken))
		if code == http.StatusOK && strings.Contains(body, "#EXT-X-ENDLIST") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatal("stream did not end")
}

func (e *testEnv) liveURL(file, token string) string {
	u := e.srv.URL + "/live/" + testRoom + "/1/" + file
	if token != "" {
		u += "?streamingToken=" + token
	}
	return u
}

func (e *testEnv) get(url string) (string, int) {
	e.t.Helper()
	res, err := http.Get(url)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b), res.StatusCode
}

// feed packages units synchronously (no hub reader): the result is deterministic.
// The stream is bound to the test session and served by e's handler.
func (e *testEnv) feed(tracks []*hub.Track, units []*hub.Unit, end bool) *stream {
	e.t.Helper()
	hs := &hub.Stream{Key: testStreamID, Tracks: tracks}
	if err := hs.Initialize(); err != nil {
		e.t.Fatal(err)
	}
	st := newStream(e.p, testStreamID, hs, e.t.TempDir())
	if !st.bind(Session{AppID: testAppID, RoomUUID: testRoom, SessionNo: testSessionNo}) {
		e.t.Fatal("bind failed")
	}
	e.p.mu.Lock()
	e.p.bySession[sessionKey(testRoom, testSessionNo)] = st
	e.p.mu.Unlock()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, u := range units {
		c := *u
		c.NTP = base.Add(u.DTS)
		if err := st.seg.write(&c); err != nil {
			e.t.Fatal(err)
		}
	}
	if end {
		st.end(nil)
	}
	return st
}
