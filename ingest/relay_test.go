package ingest

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
)

// relayRun is what one player of h264_aac.flv received.
type relayRun struct {
	media, wire, writes int64 // media payload bytes, bytes on the wire, server writes
	video, audio        int
}

// relayOnce publishes h264_aac.flv (mode RTMP) on a server sending chunks of
// chunkSize and plays it with go-rtmp's client; every unit must arrive.
func relayOnce(t *testing.T, chunkSize uint32) relayRun {
	h := newHarness(t, func(s *Server) { s.chunkSize, s.playerQueue = chunkSize, 1<<14 })
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
	wire0, writes0 := player.received.Load(), h.s.writeCalls.Load()
	if err := sendScaled(pub, rest, 10); err != nil {
		t.Fatal(err)
	}
	want, nv, na := digests(t, tags)
	player.waitFor("all units", func() bool {
		_, gv, ga := digests(t, player.media)
		return gv >= nv && ga >= na
	})
	got, gv, ga := digests(t, player.mediaTags())
	sameUnits(t, "player", want, got, nv, na, gv, ga)
	run := relayRun{wire: player.received.Load() - wire0, writes: h.s.writeCalls.Load() - writes0, video: gv, audio: ga}
	for _, tg := range player.mediaTags() {
		run.media += int64(len(tg.Data))
	}
	pub.unpublish()
	h.waitStop("1")
	return run
}

// TestRelayChunkSize: the relay sends 4096-byte chunks (announced with Set Chunk
// Size); go-rtmp's player still gets every unit. It logs the bytes on the wire and
// the server's write calls per MB of media, against go-rtmp's default 128.
func TestRelayChunkSize(t *testing.T) {
	for _, size := range []uint32{defaultPeerChunkSize, DefaultSendChunkSize, 65536} {
		t.Run(strconv.Itoa(int(size)), func(t *testing.T) {
			t.Parallel()
			r := relayOnce(t, size)
			mb := float64(r.media) / 1e6
			t.Logf("chunk size %d: %d video + %d audio units, %.2f MB of media: %.0f bytes on the wire per MB of media, %.0f server writes per MB (writes to the publisher included)",
				size, r.video, r.audio, mb, float64(r.wire)/mb, float64(r.writes)/mb)
		})
	}
}

// flvUnits reads an FLV file ffmpeg wrote and returns its unit digests (relative
// to the first key frame, as digests does).
func flvUnits(t *testing.T, path string) (map[bool][][32]byte, int, int) {
	tags, err := flv.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var media []flv.Tag
	for _, tg := range tags {
		if tg.Type != flv.TagScript {
			media = append(media, tg)
		}
	}
	return digests(t, media)
}

// ffmpegPlay starts ffmpeg as an RTMP player of room-<id>, copying what it gets
// into an FLV file; wait returns the file once ffmpeg ended (the server closes the
// connection at the end of the stream).
func ffmpegPlay(t *testing.T, h *harness, id string) (wait func() string) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("SKIPPED: ffmpeg is not installed; the real-player test did not run")
	}
	out := filepath.Join(t.TempDir(), "play.flv")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	url := "rtmp://" + h.addr() + "/play/room-" + id + "?streamingToken=good"
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-i", url, "-c", "copy", "-f", "flv", out)
	done := make(chan struct{})
	var log []byte
	var runErr error
	go func() {
		log, runErr = cmd.CombinedOutput()
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return func() string {
		<-done
		if runErr != nil {
			t.Fatalf("ffmpeg player: %v\n%s", runErr, log)
		}
		return out
	}
}

// TestFFmpegPlayer plays the relay with a real ffmpeg (4096-byte chunks): it must
// get every unit from the first key frame on, with the published payloads and
// relative timestamps.
func TestFFmpegPlayer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tags := readTags(t, "h264_aac.flv")
	head, rest := splitHeaders(t, tags)
	pub := publishClient(t, h, "key1?mode=RTMP")
	if err := pub.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	st := h.stream("1")
	wait := ffmpegPlay(t, h, "1")
	h.wait("ffmpeg attached", func() bool { return st.ReaderCount() == 1 })
	if err := sendScaled(pub, rest, 5); err != nil {
		t.Fatal(err)
	}
	pub.unpublish()
	h.waitStop("1")
	checkFFmpegUnits(t, wait(), tags)
}

func checkFFmpegUnits(t *testing.T, file string, tags []flv.Tag) {
	t.Helper()
	want, nv, na := digests(t, tags)
	got, gv, ga := flvUnits(t, file)
	sameUnits(t, "ffmpeg", want, got, nv, na, gv, ga)
	t.Logf("ffmpeg received %d video + %d audio units, checksums (payload, relative timestamps) equal", gv, ga)
}

// TestFFmpegPlayerLongStream: ffmpeg plays a stream whose hub timestamps are 5 h
// in (a publish running for 5 hours): the relay starts the player at 0, so go-rtmp
// writes no type-0 header at ≥ 0xffffff ms, whose continuation chunks would lack the
// extended timestamp ffmpeg reads there. go-rtmp writes a type-0 header for the
// first message of each chunk stream, a sequence header: with 4096-byte chunks it
// fits one chunk; with 32-byte chunks (as HEVC parameter sets with go-rtmp's 128)
// it does not, and ffmpeg would lose sync without the rebasing. Every unit must
// arrive: the stream is written at 5× real time, so the players' queues hold the
// whole file (a player slowed by a loaded machine would otherwise skip a GOP, as
// designed, and the test would measure the machine).
func TestFFmpegPlayerLongStream(t *testing.T) {
	t.Parallel()
	for _, size := range []uint32{32, DefaultSendChunkSize} {
		t.Run(strconv.Itoa(int(size)), func(t *testing.T) {
			t.Parallel()
			longStream(t, size)
		})
	}
}

func longStream(t *testing.T, chunkSize uint32) {
	h := newHarness(t, func(s *Server) { s.chunkSize, s.playerQueue = chunkSize, 1<<14 })
	tags := readTags(t, "h264_aac.flv")
	d := &flv.Demuxer{}
	var units []*hub.Unit
	var tracks []*hub.Track
	for _, tg := range tags {
		u, err := d.Push(tg)
		if err != nil {
			t.Fatal(err)
		}
		if u == nil {
			continue
		}
		if len(tracks) < 2 && (len(tracks) == 0 || tracks[0] != u.Track) {
			tracks = append(tracks, u.Track)
		}
		shifted := *u
		shifted.DTS += 5 * time.Hour
		shifted.PTS += 5 * time.Hour
		units = append(units, &shifted)
	}
	st := &hub.Stream{Key: "7", Tracks: tracks, GOPCache: true}
	if err := st.Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Publish(st); err != nil {
		t.Fatal(err)
	}
	wait := ffmpegPlay(t, h, "7")
	player := dialRTMP(t, h.addr()) // and go-rtmp's client
	if !player.connect("play") || player.play("room-7?streamingToken=good") == "NetStream.Play.Failed" {
		t.Fatal("player refused")
	}
	h.wait("players attached", func() bool { return st.ReaderCount() == 2 })
	start := time.Now()
	for _, u := range units {
		due := (u.DTS - units[0].DTS) / 5
		if d := due - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		st.Write(u)
	}
	h.reg.Unpublish(st)
	st.Close()
	checkFFmpegUnits(t, wait(), tags)
	if err := player.waitClosed(); err == nil {
		t.Fatal("player open")
	}
	media := player.mediaTags()
	if len(media) == 0 || media[0].Timestamp != 0 {
		t.Fatalf("go-rtmp player: first timestamp %v", media)
	}
	t.Logf("go-rtmp player: %d messages, timestamps %d to %d ms", len(media), media[0].Timestamp, media[len(media)-1].Timestamp)
}
