package ingest

import (
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
)

// TestRelayPlayerOutlivesIdleTimeout: a player sends nothing after its play
// command, and must still get the whole stream when it lasts many idle timeouts
// (the read deadline of its last read used to cut it after IdleTimeout).
func TestRelayPlayerOutlivesIdleTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *Server) { s.IdleTimeout = time.Second })
	tags := readTags(t, "h264_aac.flv")
	head, rest := splitHeaders(t, tags)
	pub := publishClient(t, h, "key1?mode=RTMP")
	if err := pub.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	st := h.stream("1")
	player := dialRTMP(t, h.addr())
	if !player.connect("play") || player.play("room-1?streamingToken=good") == "NetStream.Play.Failed" {
		t.Fatal("player refused")
	}
	h.wait("player attached", func() bool { return st.ReaderCount() == 1 })
	start := time.Now()
	if err := sendScaled(pub, rest, 2); err != nil { // 10 s of media in 5 s: 5 idle timeouts
		t.Fatal(err)
	}
	want, nv, na := digests(t, tags)
	player.waitFor("all units", func() bool {
		_, gv, ga := digests(t, player.media)
		return gv >= nv && ga >= na
	})
	got, gv, ga := digests(t, player.mediaTags())
	sameUnits(t, "player", want, got, nv, na, gv, ga)
	t.Logf("player received all %d units over %v with a %v idle timeout", gv+ga, time.Since(start).Round(time.Millisecond), h.s.IdleTimeout)
	pub.unpublish()
	h.waitStop("1")
}

// resumeParts splits h264_aac.flv at a key frame near its middle: part A is the
// headers and the tags from the first key frame up to that one, part B the headers
// and the tags from it on (each part starts with a key frame, as a reconnecting
// encoder does).
func resumeParts(t *testing.T) (head, a, b []flv.Tag) {
	tags := readTags(t, "h264_aac.flv")
	head, rest := splitHeaders(t, tags)
	var keys []int
	for i, tg := range rest {
		if tg.Type == flv.TagVideo && len(tg.Data) > 0 && tg.Data[0]>>4 == 1 {
			keys = append(keys, i)
		}
	}
	if len(keys) < 3 {
		t.Fatalf("%d key frames in h264_aac.flv", len(keys))
	}
	mid := keys[len(keys)/2]
	return head, rest[keys[0]:mid], rest[mid:]
}

// partUnits demuxes head+part and returns each unit's payload digest per kind
// (true = video), in order.
func partUnits(t *testing.T, head, part []flv.Tag) map[bool][][32]byte {
	t.Helper()
	d := &flv.Demuxer{}
	out := map[bool][][32]byte{}
	for _, tg := range slices.Concat(head, part) {
		u, err := d.Push(tg)
		if err != nil {
			t.Fatal(err)
		}
		if u != nil {
			out[u.Track.IsVideo()] = append(out[u.Track.IsVideo()], sha256.Sum256(u.Payload))
		}
	}
	return out
}

// checkResumed checks what a player received across a resume: per track,
// timestamps never go back, and the units are exactly part A's then part B's
// (told apart by time: B's first key frame is relayed after A's last unit).
func checkResumed(t *testing.T, who string, received []flv.Tag, head, a, b []flv.Tag) {
	t.Helper()
	d := &flv.Demuxer{}
	var units []*hub.Unit
	for _, tg := range received {
		u, err := d.Push(tg)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if u != nil {
			units = append(units, u)
		}
	}
	wantA, wantB := partUnits(t, head, a), partUnits(t, head, b)
	firstB := wantB[true][0]
	split := slices.IndexFunc(units, func(u *hub.Unit) bool {
		return u.Track.IsVideo() && sha256.Sum256(u.Payload) == firstB
	})
	if split < 0 {
		t.Fatalf("%s: the resumed stream's first key frame never arrived (%d units)", who, len(units))
	}
	resumedAt := units[split].DTS
	got := [2]map[bool][][32]byte{{}, {}}
	last := map[bool]time.Duration{true: -1, false: -1}
	for _, u := range units {
		v := u.Track.IsVideo()
		if u.DTS < last[v] {
			t.Fatalf("%s: video=%v timestamp went back from %v to %v", who, v, last[v], u.DTS)
		}
		last[v] = u.DTS
		part := 0
		if u.DTS >= resumedAt {
			part = 1
		}
		got[part][v] = append(got[part][v], sha256.Sum256(u.Payload))
	}
	for i, want := range []map[bool][][32]byte{wantA, wantB} {
		for _, v := range []bool{true, false} {
			if !slices.Equal(got[i][v], want[v]) {
				t.Fatalf("%s: part %c video=%v: got %d units, published %d (or they differ)",
					who, 'A'+i, v, len(got[i][v]), len(want[v]))
			}
		}
	}
	t.Logf("%s: %d + %d units of parts A and B, resumed at %v, last timestamp %v",
		who, len(wantA[true])+len(wantA[false]), len(wantB[true])+len(wantB[false]), resumedAt, max(last[true], last[false]))
}

// TestRelayPlayerFollowsResume: when the publisher drops, a player stays connected
// and waits; when the broadcast resumes (a new publish of the same stream ID) it
// goes on with the new stream, timestamps continuing; when the broadcast ends it is
// closed, with every unit of both publishes delivered first. Played by go-rtmp's
// client and by a real ffmpeg.
func TestRelayPlayerFollowsResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	head, a, b := resumeParts(t)

	pub := publishClient(t, h, "key1?mode=RTMP")
	if err := pub.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	first := h.stream("1")
	wait := ffmpegPlay(t, h, "1")
	player := dialRTMP(t, h.addr())
	if !player.connect("play") || player.play("room-1?streamingToken=good") == "NetStream.Play.Failed" {
		t.Fatal("player refused")
	}
	h.wait("players attached", func() bool { return first.ReaderCount() == 2 })
	if err := sendScaled(pub, a, 10); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.paused["1"] = true // the room goes LIVE_INACTIVE
	h.mu.Unlock()
	pub.unpublish()
	h.waitStop("1")
	pub.close()

	pub2 := publishClient(t, h, "key1?mode=RTMP")
	if err := pub2.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	var second *hub.Stream
	h.wait("second stream", func() bool { second = h.streams["1"]; return second != first })
	h.wait("players attached to the resumed stream", func() bool { return second.ReaderCount() == 2 })
	if err := player.closedErr(); err != nil {
		t.Fatalf("player closed while waiting: %v", err)
	}
	if err := sendScaled(pub2, b, 10); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.paused["1"] = false // the room ends
	h.mu.Unlock()
	pub2.unpublish()
	if err := player.waitClosed(); err == nil {
		t.Fatal("player still open after the end")
	}
	checkResumed(t, "go-rtmp player", player.mediaTags(), head, a, b)
	tags, err := flv.ReadFile(wait())
	if err != nil {
		t.Fatal(err)
	}
	checkResumed(t, "ffmpeg", tags, head, a, b)
}
