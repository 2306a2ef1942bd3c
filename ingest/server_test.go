package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/internal/testparallel"
	"github.com/roomcast/roomcast/publish"
)

func TestMain(m *testing.M) {
	raiseDefaultParallel()
	goleak.VerifyTestMain(m)
}

// parallelWallClock is the default -parallel of this package: its parallel tests
// publish at (scaled) real time and wait on timeouts, so GOMAXPROCS (the testing
// default) would serialise them for nothing. The tests that measure CPU, heap or
// scheduling are not parallel. An explicit -parallel wins.
const parallelWallClock = 8

func raiseDefaultParallel() {
	testparallel.Default(parallelWallClock)
}

// harness runs a Server on 127.0.0.1:0 with simple in-test seams: a map of valid
// stream keys, and one room "room-<id>" per stream with the token "good".
type harness struct {
	t   *testing.T
	s   *Server
	reg *hub.Registry

	mu       sync.Mutex
	keys     map[string]publish.StreamID // secret -> stream ID
	starts   []PublishRequest
	stops    map[string][]publish.StopReason
	streams  map[string]*hub.Stream
	capacity []string
	changed  chan struct{}
	// paused marks stream IDs whose broadcast waits for its publisher: OnPlay answers
	// ErrStreamInactive for them while nothing is published (else "not live").
	paused map[string]bool
}

func newHarness(t *testing.T, configure func(*Server)) *harness {
	t.Helper()
	h := &harness{t: t, reg: &hub.Registry{}, keys: map[string]publish.StreamID{}, stops: map[string][]publish.StopReason{},
		streams: map[string]*hub.Stream{}, changed: make(chan struct{}, 1), paused: map[string]bool{}}
	for i := 1; i <= 9; i++ {
		h.keys["key"+strconv.Itoa(i)] = publish.StreamID(i)
	}
	lvl := slog.LevelWarn
	if testing.Verbose() {
		lvl = slog.LevelDebug
	}
	h.s = &Server{
		Addr:     "127.0.0.1:0",
		Log:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: lvl})),
		Registry: h.reg,
		OnPublishStart: func(_ context.Context, req PublishRequest) (PublishGrant, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.starts = append(h.starts, req)
			id, ok := h.keys[req.StreamKey]
			if !ok {
				return PublishGrant{}, errors.New("stream key not found")
			}
			return PublishGrant{StreamID: id, Mode: req.Mode}, nil
		},
		OnStreamReady: func(g PublishGrant, s *hub.Stream) {
			h.mu.Lock()
			h.streams[g.StreamID.String()] = s
			h.mu.Unlock()
			h.notify()
		},
		OnPublishStop: func(g PublishGrant, r publish.StopReason) {
			h.mu.Lock()
			h.stops[g.StreamID.String()] = append(h.stops[g.StreamID.String()], r)
			h.mu.Unlock()
			h.notify()
		},
		OnPlay: func(_ context.Context, room, token string) (publish.StreamID, error) {
			id, ok := strings.CutPrefix(room, "room-")
			if !ok || token != "good" {
				return 0, errors.New("forbidden")
			}
			if h.reg.Lookup(id) == nil {
				h.mu.Lock()
				defer h.mu.Unlock()
				if h.paused[id] {
					return 0, ErrStreamInactive
				}
				return 0, errors.New("not live")
			}
			return publish.ParseStreamID(id)
		},
		OnCapacity: func(event publish.CapacityEvent, cur, limit int) {
			h.mu.Lock()
			h.capacity = append(h.capacity, fmt.Sprintf("%s %d/%d", event, cur, limit))
			h.mu.Unlock()
		},
	}
	if configure != nil {
		configure(h.s)
	}
	if err := h.s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.s.Close)
	return h
}

func (h *harness) notify() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

func (h *harness) addr() string { return h.s.ListenAddr().String() }

// wait polls cond under h.mu until it holds (15 s bound).
func (h *harness) wait(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		h.mu.Lock()
		ok := cond()
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-h.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("timeout waiting for %s", what)
		}
	}
}

func (h *harness) stream(id string) *hub.Stream {
	h.wait("stream "+id+" ready", func() bool { return h.streams[id] != nil })
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.streams[id]
}

func (h *harness) waitStop(id string) publish.StopReason {
	h.wait("stop of "+id, func() bool { return len(h.stops[id]) > 0 })
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stops[id][0]
}

func (h *harness) stopsOf(id string) []publish.StopReason {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.stops[id])
}

func readTags(t testing.TB, name string) []flv.Tag {
	t.Helper()
	tags, err := flv.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

// splitHeaders returns the leading script and sequence-header tags, and the rest.
func splitHeaders(t testing.TB, tags []flv.Tag) (head, rest []flv.Tag) {
	d := &flv.Demuxer{}
	for i, tag := range tags {
		u, err := d.Push(tag)
		if err != nil {
			t.Fatal(err)
		}
		if u != nil {
			return tags[:i], tags[i:]
		}
	}
	return tags, nil
}

// digests demuxes tags and returns the checksum of every access unit: video from
// the first key frame on, audio after that key frame's DTS (all of it without
// video). Audio is taken by time, not by order: the relay writes with go-rtmp's
// 128-byte chunks, whose writer interleaves chunk streams, so audio sent after a key
// frame can reach the player before the key frame's last chunk.
// sameUnits fails unless got holds exactly the units of want (per track: RTMP
// interleaves the chunk streams of audio and video, so order is compared per track).
func sameUnits(t testing.TB, who string, want, got map[bool][][32]byte, nv, na, gv, ga int) {
	t.Helper()
	if gv != nv || ga != na {
		t.Fatalf("%s got %d video + %d audio units, published %d + %d", who, gv, ga, nv, na)
	}
	for _, video := range []bool{true, false} {
		for j := range want[video] {
			if got[video][j] != want[video][j] {
				t.Fatalf("%s: video=%v unit %d differs", who, video, j)
			}
		}
	}
}

func digests(t testing.TB, tags []flv.Tag) (out map[bool][][32]byte, video, audio int) {
	t.Helper()
	d := &flv.Demuxer{}
	var units []*hub.Unit
	for _, tag := range tags {
		u, err := d.Push(tag)
		if err != nil {
			t.Fatal(err)
		}
		if u != nil {
			units = append(units, u)
		}
	}
	key := slices.IndexFunc(units, func(u *hub.Unit) bool { return u.Track.IsVideo() && u.Key })
	out = map[bool][][32]byte{}
	var base time.Duration // the relay rebases timestamps: compared from the first key frame
	if key >= 0 {
		base = units[key].DTS
	} else if len(units) > 0 {
		base = units[0].DTS
	}
	for i, u := range units {
		isVideo := u.Track.IsVideo()
		if key >= 0 && ((isVideo && i < key) || (!isVideo && u.DTS <= base)) {
			continue
		}
		if isVideo {
			video++
		} else {
			audio++
		}
		out[isVideo] = append(out[isVideo], auDigest(isVideo, u.Key, u.DTS-base, u.PTS-base, u.Payload))
	}
	return out, video, audio
}

// countUnits returns how many access units tags carry.
func countUnits(t testing.TB, tags []flv.Tag) int {
	d := &flv.Demuxer{}
	n := 0
	for _, tag := range tags {
		if u, err := d.Push(tag); err != nil {
			t.Fatal(err)
		} else if u != nil {
			n++
		}
	}
	return n
}

func publishClient(t *testing.T, h *harness, name string) *rtmpClient {
	t.Helper()
	c := dialRTMP(t, h.addr())
	if !c.connect("live") {
		t.Fatal("connect refused")
	}
	if code := c.publish(name); code != "NetStream.Publish.Start" {
		t.Fatalf("publish %q: %s", name, code)
	}
	return c
}

// TestRelayDeliversExactlyThePublishedUnits publishes each testdata file in mode
// RTMP and plays it back through the relay: the player must get every access unit
// from the first key frame on, in order, with identical payloads and timestamps
// (relative to the first key frame: the relay starts each player at 0).
func TestRelayDeliversExactlyThePublishedUnits(t *testing.T) {
	for i, file := range []string{"h264_aac.flv", "hevc_aac.flv", "av1_aac.flv", "aac.flv", "h264.flv"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			id := strconv.Itoa(i + 1)
			tags := readTags(t, file)
			head, rest := splitHeaders(t, tags)
			pub := publishClient(t, h, "key"+id+"?mode=RTMP")
			if err := pub.sendTags(head, false); err != nil {
				t.Fatal(err)
			}
			st := h.stream(id)
			wantVideo := file != "aac.flv"
			if got := st.Tracks[0].IsVideo(); got != wantVideo || st.Tracks[0].ID != 1 {
				t.Fatalf("first track %+v", st.Tracks[0])
			}
			player := dialRTMP(t, h.addr())
			if !player.connect("play") {
				t.Fatal("player connect refused")
			}
			if code := player.play("room-" + id + "?streamingToken=good"); code != "NetStream.Play.Reset" && code != "NetStream.Play.Start" {
				t.Fatalf("play: %s", code)
			}
			h.wait("player attached", func() bool { return st.ReaderCount() == 1 })
			if err := sendScaled(pub, rest, 5); err != nil {
				t.Fatal(err)
			}
			want, nv, na := digests(t, tags)
			player.waitFor("all units", func() bool {
				_, gv, ga := digests(t, player.media)
				return gv >= nv && ga >= na
			})
			got, gv, ga := digests(t, player.mediaTags())
			sameUnits(t, "player", want, got, nv, na, gv, ga)
			pub.unpublish()
			if r := h.waitStop(id); r != publish.StopClientUnpublish {
				t.Fatalf("stop reason %s", r)
			}
			if err := player.waitClosed(); err == nil {
				t.Fatal("player connection still open after the stream ended")
			}
			t.Logf("%s: %d video + %d audio units relayed, checksums equal", file, nv, na)
		})
	}
}

// sendScaled sends tags at speed× real time.
func sendScaled(c *rtmpClient, tags []flv.Tag, speed int) error {
	if len(tags) == 0 {
		return nil
	}
	start, base := time.Now(), tags[0].Timestamp
	for _, t := range tags {
		due := time.Duration(t.Timestamp-base) * time.Millisecond / time.Duration(speed)
		if d := due - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		if err := c.sendTag(t); err != nil {
			return err
		}
	}
	return nil
}

func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	cases := []struct {
		name, app, stream string
		connectOK         bool
	}{
		{"unknown key", "live", "nokey?mode=CMAF", true},
		{"unknown mode", "live", "key1?mode=HLS", true},
		{"empty name", "live", "", true},
		{"unknown app", "other", "key1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := dialRTMP(t, h.addr())
			if ok := cl.connect(c.app); ok != c.connectOK {
				t.Fatalf("connect ok=%v", ok)
			}
			if c.connectOK {
				if code := cl.publish(c.stream); code != "NetStream.Publish.BadName" {
					t.Fatalf("status %q", code)
				}
			}
			if err := cl.waitClosed(); err == nil {
				t.Fatal("connection not closed")
			}
		})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.starts {
		if r.Mode == "HLS" || r.StreamKey == "" {
			t.Fatalf("OnPublishStart called for %+v", r)
		}
	}
	if len(h.stops) != 0 {
		t.Fatalf("OnPublishStop called for refused publishers: %v", h.stops)
	}
}

func TestWholeURLFormAndModes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	cl := dialRTMP(t, h.addr())
	if !cl.connect("live/key3?mode=rtmp_cmaf") {
		t.Fatal("connect refused")
	}
	if code := cl.publish(""); code != "NetStream.Publish.Start" {
		t.Fatalf("whole URL form: %s", code)
	}
	h.wait("start", func() bool { return len(h.starts) == 1 })
	if r := h.starts[0]; r.StreamKey != "key3" || r.Mode != publish.ModeRTMPCMAF {
		t.Fatalf("request %+v", r)
	}
}

// TestPublishWithoutModeIsCMAF: a publish name without "mode" (or with an empty
// one) reaches OnPublishStart as publish.ModeCMAF, never an empty mode.
func TestPublishWithoutModeIsCMAF(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for i, name := range []string{"key4", "key5?mode="} {
		cl := dialRTMP(t, h.addr())
		if !cl.connect("live") {
			t.Fatal("connect refused")
		}
		if code := cl.publish(name); code != "NetStream.Publish.Start" {
			t.Fatalf("%s: %s", name, code)
		}
		h.wait("start", func() bool { return len(h.starts) == i+1 })
		h.mu.Lock()
		r := h.starts[i]
		h.mu.Unlock()
		if r.Mode != publish.ModeCMAF {
			t.Fatalf("%s: request %+v", name, r)
		}
	}
}

func TestSecondPublisherRefusedFirstContinues(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tags := readTags(t, "h264_aac.flv")
	first := publishClient(t, h, "key1?mode=CMAF")
	head, rest := splitHeaders(t, tags)
	if err := first.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	st := h.stream("1")
	done := make(chan error, 1)
	go func() { done <- sendScaled(first, rest, 5) }()

	second := dialRTMP(t, h.addr())
	if !second.connect("live") {
		t.Fatal("connect")
	}
	if code := second.publish("key1?mode=CMAF"); code != "NetStream.Publish.BadName" {
		t.Fatalf("second publisher: %s", code)
	}
	if err := second.waitClosed(); err == nil {
		t.Fatal("second connection open")
	}
	if err := <-done; err != nil {
		t.Fatalf("first publisher broken: %v", err)
	}
	all := countUnits(t, tags)
	h.wait("all units", func() bool { n, _ := st.Stats(); return int(n) == all })
	if h.reg.Lookup("1") != st {
		t.Fatal("first stream unregistered")
	}
	first.unpublish()
	if r := h.waitStop("1"); r != publish.StopClientUnpublish {
		t.Fatal(r)
	}
	if s := h.stopsOf("1"); len(s) != 1 {
		t.Fatalf("OnPublishStop called %d times", len(s))
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *Server) { s.IdleTimeout = 400 * time.Millisecond })
	tags := readTags(t, "h264_aac.flv")
	c := publishClient(t, h, "key1")
	if err := c.sendTags(tags[:20], false); err != nil {
		t.Fatal(err)
	}
	// then silence: a vanished OBS (half-open TCP)
	if r := h.waitStop("1"); r != publish.StopIdleTimeout {
		t.Fatalf("reason %s", r)
	}
	if h.reg.Lookup("1") != nil {
		t.Fatal("stream still registered")
	}
	if err := c.waitClosed(); err == nil {
		t.Fatal("connection open")
	}
	// a connection that never publishes is closed too
	idle := dialRTMP(t, h.addr())
	if err := idle.waitClosed(); err == nil {
		t.Fatal("idle connection open")
	}
}

func TestHandshakeTimeoutAndGarbage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *Server) { s.HandshakeTimeout = 300 * time.Millisecond })
	for _, junk := range [][]byte{nil, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), make([]byte, 5000)} {
		nc, err := net.Dial("tcp", h.addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(junk); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var ne net.Error
		if _, err := io.Copy(io.Discard, nc); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server did not close the connection: %v", err)
		}
		nc.Close()
	}
}

// TestBadInputIsolated runs a good publisher while other connections send garbage,
// an absurd chunk size, a broken codec configuration, frames before any sequence
// header and a truncated chunk: only those end, the good stream gets every unit.
func TestBadInputIsolated(t *testing.T) {
	t.Parallel()
	// garbage before the handshake is ended by the handshake timeout: a short one
	h := newHarness(t, func(s *Server) { s.HandshakeTimeout = 2 * time.Second })
	tags := readTags(t, "h264_aac.flv")
	good := publishClient(t, h, "key1?mode=RTMP")
	head, rest := splitHeaders(t, tags)
	if err := good.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	st := h.stream("1")
	done := make(chan error, 1)
	go func() { done <- sendScaled(good, rest, 4) }()

	t.Run("garbage before handshake", func(t *testing.T) {
		nc, err := net.Dial("tcp", h.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_, _ = nc.Write([]byte("\x03garbage garbage garbage garbage"))
		_, _ = nc.Write(make([]byte, 3000))
		_ = nc.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.Copy(io.Discard, nc); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the server kept the connection past its handshake timeout")
		}
	})
	t.Run("absurd chunk size", func(t *testing.T) {
		c := dialRTMP(t, h.addr())
		if !c.connect("live") {
			t.Fatal("connect")
		}
		if err := c.write(2, 0, chunkSizeMsg(0x7fffffff)); err != nil {
			t.Fatal(err)
		}
		if err := c.waitClosed(); err == nil {
			t.Fatal("open")
		}
	})
	t.Run("broken codec config", func(t *testing.T) {
		c := publishClient(t, h, "key2")
		_ = c.sendTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 9, 1, 2}})
		if r := h.waitStop("2"); r != publish.StopInvalidMedia {
			t.Fatal(r)
		}
	})
	t.Run("frames before sequence header", func(t *testing.T) {
		c := publishClient(t, h, "key3")
		_, frames := splitHeaders(t, tags)
		for _, f := range frames[:150] { // all dropped, then too many in a row
			if f.Type == flv.TagVideo {
				_ = c.sendTag(f)
			}
		}
		if r := h.waitStop("3"); r != publish.StopInvalidMedia {
			t.Fatal(r)
		}
	})
	t.Run("timestamps jumping", func(t *testing.T) {
		c := publishClient(t, h, "key4")
		var jumped []flv.Tag
		for i, tg := range tags[:200] {
			if i > 100 {
				tg.Timestamp += 3_600_000 // one hour forward
			}
			if i > 150 {
				tg.Timestamp -= 3_650_000 // then back behind the start
			}
			jumped = append(jumped, tg)
		}
		if err := c.sendTags(jumped, false); err != nil {
			t.Fatal(err)
		}
		s := h.stream("4")
		var last time.Duration
		r := &hub.Reader{OnUnit: func(u *hub.Unit) error {
			if u.Track.IsVideo() {
				if u.DTS < last || u.DTS-last > 10*time.Second {
					return fmt.Errorf("DTS %v after %v", u.DTS, last)
				}
				last = u.DTS
			}
			return nil
		}}
		if err := s.AddReader(r); err != nil {
			t.Fatal(err)
		}
		if err := c.sendTags(jumped[100:], false); err != nil { // again, while read
			t.Fatal(err)
		}
		c.unpublish()
		if err := <-r.Err(); !errors.Is(err, hub.ErrStreamClosed) {
			t.Fatal(err)
		}
		s.RemoveReader(r)
	})
	t.Run("truncated chunk", func(t *testing.T) {
		c := publishClient(t, h, "key5")
		// a chunk header announcing 100000 bytes of video, then the socket closes
		hdr := []byte{0x06, 0, 0, 0, 0x01, 0x86, 0xa0, 9, 1, 0, 0, 0}
		_, _ = c.nc.Write(append(hdr, 0x17, 1, 0, 0))
		c.nc.Close()
		if r := h.waitStop("5"); r != publish.StopConnectionError {
			t.Fatal(r)
		}
	})

	if err := <-done; err != nil {
		t.Fatalf("good publisher: %v", err)
	}
	all := countUnits(t, tags)
	h.wait("good stream complete", func() bool { n, _ := st.Stats(); return int(n) == all })
	good.unpublish()
	if r := h.waitStop("1"); r != publish.StopClientUnpublish {
		t.Fatal(r)
	}
}

func TestCapacityLimitsAndEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *Server) { s.MaxPublishers = 5 })
	var cs []*rtmpClient
	for i := 1; i <= 5; i++ {
		cs = append(cs, publishClient(t, h, "key"+strconv.Itoa(i)))
	}
	extra := dialRTMP(t, h.addr())
	if !extra.connect("live") {
		t.Fatal("connect")
	}
	if code := extra.publish("key6"); code != "NetStream.Publish.BadName" {
		t.Fatalf("6th publisher: %s", code)
	}
	h.mu.Lock()
	got := slices.Clone(h.capacity)
	h.mu.Unlock()
	want := []string{publish.CapacityNearLimit.String() + " 4/5", publish.CapacityLimited.String() + " 5/5"}
	if !slices.Equal(got, want) {
		t.Fatalf("capacity events %v", got)
	}
	cs[0].unpublish()
	h.waitStop("1")
	again := publishClient(t, h, "key7") // a slot is free again
	_ = again
}

func TestKickAndShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	c1 := publishClient(t, h, "key1")
	_ = publishClient(t, h, "key2")
	h.s.Kick(1, publish.StopKeyReset)
	if r := h.waitStop("1"); r != publish.StopKeyReset {
		t.Fatal(r)
	}
	if err := c1.waitClosed(); err == nil {
		t.Fatal("kicked connection open")
	}
	h.s.Close()
	if r := h.waitStop("2"); r != publish.StopServerShutdown {
		t.Fatal(r)
	}
}

func TestBitrateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *Server) { s.MaxBitrate = 200_000 })
	c := publishClient(t, h, "key1")
	_ = c.sendTags(readTags(t, "h264_aac.flv"), false) // ~1 Mbps sent at once
	if r := h.waitStop("1"); r != publish.StopBitrateExceeded {
		t.Fatal(r)
	}
}

func TestPlayerRefusalsAndLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *Server) { s.MaxPlayersPerStream = 1 })
	pub := publishClient(t, h, "key1?mode=RTMP")
	head, _ := splitHeaders(t, readTags(t, "h264_aac.flv"))
	if err := pub.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	h.stream("1")
	for name, stream := range map[string]string{
		"bad token":    "room-1?streamingToken=bad",
		"no token":     "room-1",
		"unknown room": "elsewhere?streamingToken=good",
		"not live":     "room-2?streamingToken=good",
	} {
		t.Run(name, func(t *testing.T) {
			p := dialRTMP(t, h.addr())
			if !p.connect("play") {
				t.Fatal("connect")
			}
			if code := p.play(stream); code != "NetStream.Play.Failed" {
				t.Fatalf("status %s", code)
			}
		})
	}
	p1 := dialRTMP(t, h.addr())
	p1.connect("play")
	if code := p1.play("room-1?streamingToken=good"); code == "NetStream.Play.Failed" {
		t.Fatal("first player refused")
	}
	p2 := dialRTMP(t, h.addr())
	p2.connect("play")
	if code := p2.play("room-1?streamingToken=good"); code != "NetStream.Play.Failed" {
		t.Fatalf("second player over the limit: %s", code)
	}
}

// TestFFmpegPublisher publishes with a real ffmpeg, using the whole-URL form.
func TestFFmpegPublisher(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("SKIPPED: ffmpeg is not installed (.ci/run installs it); the real-publisher test did not run")
	}
	t.Parallel()
	h := newHarness(t, nil)
	url := "rtmp://" + h.addr() + "/live/key1?mode=CMAF"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-re", "-i", "../testdata/h264_aac.flv",
		"-t", "3", "-c", "copy", "-f", "flv", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	st := h.stream("1")
	if len(st.Tracks) != 2 {
		t.Fatalf("tracks %v", st.Tracks)
	}
	if r := h.waitStop("1"); r != publish.StopClientUnpublish {
		t.Fatalf("reason %s", r)
	}
	if n, _ := st.Stats(); n < 100 {
		t.Fatalf("only %d units", n)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.starts[0].StreamKey != "key1" || h.starts[0].Mode != publish.ModeCMAF {
		t.Fatalf("%+v", h.starts[0])
	}
}

// TestCloseRightAfterInitialize: Close returns even when it comes before the serving
// goroutine ran (go-rtmp only closes a listener its Serve has registered).
func TestCloseRightAfterInitialize(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			s := &Server{Addr: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler), Registry: &hub.Registry{},
				OnPublishStart: func(context.Context, PublishRequest) (PublishGrant, error) {
					return PublishGrant{}, errors.New("no publishing")
				}}
			if err := s.Initialize(); err != nil {
				t.Error(err)
				return
			}
			s.Close()
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close right after Initialize did not return")
	}
}
