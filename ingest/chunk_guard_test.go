package ingest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/roomcast/roomcast/ingest/flv"
)

// publishSession is the chunk stream (without handshake) of a client publishing
// tags: connect, optional Set Chunk Size, the publish commands, @setDataFrame, the
// media on chunk streams 4 (audio) and 6 (video), then FCUnpublish and
// deleteStream. tsOffset is added to every timestamp; interleave sends an audio and
// a video message chunk by chunk in turn.
func publishSession(t testing.TB, tags []flv.Tag, chunkSize uint32, tsOffset uint32, interleave bool) []byte {
	w := newChunkWriter()
	w.write(commandMsg(t, 0, "connect", 1.0, map[string]any{"app": "live", "type": "nonprivate",
		"flashVer": "FMLE/3.0", "tcUrl": "rtmp://127.0.0.1/live"}))
	if chunkSize != defaultPeerChunkSize {
		w.write(setChunkSizeMsg(chunkSize))
	}
	w.write(commandMsg(t, 0, "releaseStream", 2.0, nil, "key1"),
		commandMsg(t, 0, "FCPublish", 3.0, nil, "key1"),
		commandMsg(t, 0, "createStream", 4.0, nil),
		commandMsg(t, 1, "publish", 5.0, nil, "key1?mode=RTMP", "live"))
	var prev *rtmpMsg
	for _, tg := range tags {
		m := rtmpMsg{csid: 4, typ: msgAudio, msid: 1, ts: tg.Timestamp + tsOffset, body: tg.Data}
		switch tg.Type {
		case flv.TagVideo:
			m.csid, m.typ = 6, msgVideo
		case flv.TagScript:
			m.csid, m.typ, m.body = 5, msgDataAMF0, amfBody(t, "@setDataFrame", tg.Data)
		}
		switch {
		case !interleave:
			w.write(m)
		case prev == nil:
			prev = &m
		case prev.csid != m.csid:
			w.interleave(*prev, m)
			prev = nil
		default:
			w.write(*prev)
			prev = &m
		}
	}
	if prev != nil {
		w.write(*prev)
	}
	w.write(commandMsg(t, 0, "FCUnpublish", 6.0, nil, "key1"), commandMsg(t, 0, "deleteStream", 7.0, nil, 1.0))
	return w.b
}

// smallTags returns the first n tags of file below 2 KiB (for fuzz seeds).
func smallTags(t testing.TB, file string, n int) []flv.Tag {
	var out []flv.Tag
	for _, tg := range readTags(t, file) {
		if len(tg.Data) < 2048 && len(out) < n {
			out = append(out, tg)
		}
	}
	return out
}

type streamCase struct {
	name   string
	stream []byte // chunk stream after the handshake
	// refused: substring of the refusal (""= the stream is good); amfLast: refused
	// at the last byte, when the whole command or data message is known
	refused string
	amfLast bool
	large   bool // not a fuzz seed
}

// goodStreams are streams the guard must pass unchanged, whatever the read sizes.
func goodStreams(t testing.TB) []streamCase {
	tags := readTags(t, "h264_aac.flv")
	small := smallTags(t, "h264_aac.flv", 12)
	w := newChunkWriter()
	w.write(commandMsg(t, 0, "connect", 1.0, map[string]any{"app": "live"}))
	for _, csid := range []int{63, 64, 200, 319} { // 1- and 2-byte basic headers
		w.write(rtmpMsg{csid: csid, typ: msgVideo, msid: 1, ts: uint32(csid), body: make([]byte, 300)},
			rtmpMsg{csid: csid, typ: msgCommandAMF0, msid: 1, ts: uint32(csid), body: amfBody(t, "ping", 0.0, nil)})
	}
	forms := w.b

	w = newChunkWriter()
	w.write(commandMsg(t, 0, "connect", 1.0, map[string]any{"app": "live"}), setChunkSizeMsg(1))
	w.interleave(rtmpMsg{csid: 4, typ: msgAudio, msid: 1, ts: 10, body: []byte("audio!")},
		rtmpMsg{csid: 6, typ: msgVideo, msid: 1, ts: 10, body: []byte("video frame")},
		commandMsg(t, 0, "createStream", 2.0, nil))
	w.write(setChunkSizeMsg(4096), rtmpMsg{csid: 6, typ: msgVideo, msid: 1, ts: 20, body: make([]byte, 5000)})
	tiny := w.b

	w = newChunkWriter()
	w.write(commandMsg(t, 0, "connect", 1.0, map[string]any{"app": "live"}),
		rtmpMsg{csid: 2, typ: msgAbort, body: []byte{0, 0, 0, 6}},
		rtmpMsg{csid: 2, typ: msgAck, body: []byte{0, 0, 1, 0}},
		rtmpMsg{csid: 2, typ: msgWinAckSize, body: []byte{0, 0x26, 0x25, 0xa0}},
		rtmpMsg{csid: 2, typ: msgSetPeerBandwidth, body: []byte{0, 0x26, 0x25, 0xa0, 2}},
		rtmpMsg{csid: 2, typ: msgUserControl, body: []byte{0, 3, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8}})
	w.contType2 = true
	w.write(rtmpMsg{csid: 6, typ: msgVideo, msid: 1, ts: 40, body: make([]byte, 1000)},
		rtmpMsg{csid: 6, typ: msgVideo, msid: 1, ts: 80, body: make([]byte, 1000)})
	control := w.b

	return []streamCase{
		{name: "publish h264_aac.flv, chunk size 4096", stream: publishSession(t, tags, 4096, 0, false), large: true},
		{name: "publish h264_aac.flv, chunk size 128, audio and video interleaved",
			stream: publishSession(t, tags, defaultPeerChunkSize, 0, true), large: true},
		{name: "publish h264_aac.flv, extended timestamps", stream: publishSession(t, tags, 60000, 0xffff00, true), large: true},
		{name: "publish the first tags, chunk size 128", stream: publishSession(t, small, defaultPeerChunkSize, 0, true)},
		{name: "publish the first tags, extended timestamps", stream: publishSession(t, small, 256, 0xfffff0, false)},
		{name: "1- and 2-byte basic headers", stream: forms},
		{name: "chunk size 1 with three interleaved messages", stream: tiny},
		{name: "control messages, abort, type-2 continuation headers", stream: control},
	}
}

// header0 is a type-0 chunk header (1-byte basic header) declaring a message.
func header0(csid int, length uint32, typ byte) []byte {
	b := put24([]byte{byte(csid)}, 0)
	b = put24(b, length)
	return append(append(b, typ), 1, 0, 0, 0)
}

// hostileStreams are streams the guard must refuse; each starts with a good connect.
func hostileStreams(t testing.TB) []streamCase {
	connect := newChunkWriter().write(commandMsg(t, 0, "connect", 1.0, map[string]any{"app": "live"})).b
	after := func(msgs ...rtmpMsg) []byte {
		w := newChunkWriter()
		w.b = slices.Clone(connect)
		return w.write(msgs...).b
	}
	raw := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{connect}, parts...), nil) }
	nested := amfBody(t, "onFoo")
	for range 17 {
		nested = append(nested, 0x03, 0, 1, 'a')
	}
	huge := strictArray(0x7fffffff, 0x05)
	w := newChunkWriter()
	w.b = slices.Clone(connect)
	w.write(setChunkSizeMsg(1), commandMsg(t, 0, "connect", 1.0, amfObject("app", huge)))
	split := w.b

	w = newChunkWriter()
	w.b = slices.Clone(connect)
	video := rtmpMsg{csid: 6, typ: msgVideo, msid: 1, body: make([]byte, 300)}
	w.first(video)
	w.b = append(w.b, video.body[:128]...)
	delete(w.streams, 6) // the next header is a type 0 again
	w.first(video)
	midMessage := w.b

	var streams65 []rtmpMsg
	for csid := 4; csid < 4+maxChunkStreams; csid++ {
		streams65 = append(streams65, rtmpMsg{csid: csid, typ: msgAudio, msid: 1, body: []byte{0xaf}})
	}
	const mib8 = 8 << 20
	return []streamCase{
		{name: "connect with a strict array of 2^31-1 in its object", amfLast: true, refused: "strict array of 2147483647 values",
			stream: after(commandMsg(t, 0, "connect", 1.0, amfObject("app", huge)))},
		{name: "unknown command with a top-level strict array", amfLast: true, refused: "strict array",
			stream: after(commandMsg(t, 0, "onFoo", 2.0, nil, huge))},
		{name: "play with a strict array argument", amfLast: true, refused: "strict array",
			stream: after(commandMsg(t, 1, "play", 0.0, nil, "room-1?streamingToken=good", huge))},
		{name: "data message with a strict array inside two objects", amfLast: true, refused: "strict array",
			stream: after(rtmpMsg{csid: 5, typ: msgDataAMF0, msid: 1,
				body: amfBody(t, "onMetaData", amfObject("a", amfObject("b", huge)))})},
		{name: "@setDataFrame with a strict array in onMetaData", amfLast: true, refused: "strict array",
			stream: after(rtmpMsg{csid: 5, typ: msgDataAMF0, msid: 1,
				body: amfBody(t, "@setDataFrame", "onMetaData", amfObject("width", huge))})},
		{name: "ECMA array of 2^31-1 entries", amfLast: true, refused: "ECMA array of 2147483647 entries",
			stream: after(commandMsg(t, 0, "connect", 1.0, []byte{0x08, 0x7f, 0xff, 0xff, 0xff, 0, 1, 'k', 0x05, 0, 0, 9}))},
		{name: "long string of 2^32-1 bytes", amfLast: true, refused: "long string of 4294967295 bytes",
			stream: after(commandMsg(t, 0, "onFoo", 2.0, nil, []byte{0x0c, 0xff, 0xff, 0xff, 0xff, 'a'}))},
		{name: "objects nested 17 deep", amfLast: true, refused: "nested deeper",
			stream: after(rtmpMsg{csid: 3, typ: msgCommandAMF0, body: nested})},
		{name: "huge strict array over 30 chunks of 1 byte", amfLast: true, refused: "strict array", stream: split},
		{name: "AMF3 command", refused: "AMF3",
			stream: after(rtmpMsg{csid: 3, typ: msgCommandAMF3, body: append([]byte{0}, amfBody(t, "connect", 1.0, huge)...)})},
		{name: "AMF3 data", refused: "AMF3", stream: after(rtmpMsg{csid: 5, typ: msgDataAMF3, body: []byte{0, 1, 2}})},
		{name: "shared object", refused: "type 19 not accepted", stream: after(rtmpMsg{csid: 5, typ: 19, body: []byte{0, 1}})},
		{name: "aggregate", refused: "type 22 not accepted", stream: after(rtmpMsg{csid: 6, typ: 22, body: []byte{9, 0, 0, 1}})},
		{name: "unknown type 7", refused: "type 7 not accepted", stream: after(rtmpMsg{csid: 6, typ: 7, body: []byte{1}})},
		{name: "empty command", refused: "empty message", stream: after(rtmpMsg{csid: 3, typ: msgCommandAMF0})},
		{name: "3-byte basic header (go-rtmp swallows the bytes after it)", refused: "3-byte chunk basic header",
			stream: after(rtmpMsg{csid: 320, typ: msgVideo, msid: 1, body: []byte{0x17, 1}})},
		{name: "3-byte basic header for a low chunk stream ID", refused: "3-byte chunk basic header",
			stream: raw([]byte{0x41, 0, 0}, []byte{1, 2, 3, 4})},
		{name: "type-3 header on a new chunk stream", refused: "type 0 not accepted", stream: raw([]byte{0xc7, 1, 2, 3})},
		{name: "type-0 header in the middle of a message", refused: "in the middle of a message", stream: midMessage},
		{name: "65 chunk streams", refused: "more than 64 chunk streams", stream: after(streams65...)},
		{name: "Set Chunk Size 0", refused: "Set Chunk Size 0x0", stream: after(setChunkSizeMsg(0))},
		{name: "Set Chunk Size with bit 31", refused: "Set Chunk Size 0x80000080", stream: after(setChunkSizeMsg(0x80000080))},
		{name: "Set Chunk Size above MaxChunkSize", refused: "exceeds 65536", stream: after(setChunkSizeMsg(1 << 20))},
		{name: "Set Chunk Size 2^31-1", refused: "Set Chunk Size 16777215 exceeds", stream: after(setChunkSizeMsg(0x7fffffff))},
		{name: "Set Chunk Size of 2 bytes", refused: "of 2 bytes", stream: after(rtmpMsg{csid: 2, typ: msgSetChunkSize, body: []byte{0, 1}})},
		{name: "video message above MaxMessageSize", refused: "exceeds 8388608", stream: raw(header0(6, mib8+1, msgVideo), []byte{0x17})},
		{name: "command message above 64 KiB", refused: "exceeds 65536", stream: raw(header0(3, 65537, msgCommandAMF0), []byte{0x02})},
		{name: "user control message above 64 bytes", refused: "exceeds 64", stream: raw(header0(2, 65, msgUserControl), []byte{0})},
		{name: "three chunk streams of 8 MiB messages", refused: "chunk streams would hold",
			stream: raw(header0(6, mib8, msgVideo), make([]byte, 128), header0(7, mib8, msgVideo), make([]byte, 128),
				header0(8, mib8, msgVideo), make([]byte, 128))},
	}
}

func TestChunkGuardPassesGoodStreams(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	splits := map[string]func(int) int{
		"one read":          nil,
		"1 byte per read":   oneByte,
		"random reads":      func(int) int { return 1 + rng.IntN(9000) },
		"4 KiB reads":       func(int) int { return 4096 },
		"3, 5 and 7 bytes ": func(i int) int { return 3 + 2*(i%3) },
	}
	for _, c := range goodStreams(t) {
		t.Run(c.name, func(t *testing.T) {
			var want []guardMsg
			for name, split := range splits {
				run := runGuard(c.stream, false, split)
				if run.err != nil {
					t.Fatalf("%s: %v", name, run.err)
				}
				if !bytes.Equal(run.passed, c.stream) {
					t.Fatalf("%s: %d bytes passed, not the %d sent", name, len(run.passed), len(c.stream))
				}
				if want == nil {
					want = run.msgs
					checkInStep(t, run, false)
				} else if !slices.Equal(run.msgs, want) {
					t.Fatalf("%s: messages differ", name)
				}
			}
			t.Logf("%d bytes, %d messages, passed unchanged whatever the read sizes, go-rtmp in step", len(c.stream), len(want))
		})
	}
}

func TestChunkGuardRefusesHostileStreams(t *testing.T) {
	for _, c := range hostileStreams(t) {
		t.Run(c.name, func(t *testing.T) {
			whole := runGuard(c.stream, false, nil)
			if !errors.Is(whole.err, errRefusedInput) || !strings.Contains(whole.err.Error(), c.refused) {
				t.Fatalf("refusal %v, want %q", whole.err, c.refused)
			}
			if len(whole.passed) != 0 {
				t.Fatalf("%d bytes of the refused read passed", len(whole.passed))
			}
			bytewise := runGuard(c.stream, false, oneByte)
			if bytewise.err == nil || bytewise.err.Error() != whole.err.Error() {
				t.Fatalf("1 byte per read: %v", bytewise.err)
			}
			if c.amfLast && len(bytewise.passed) != len(c.stream)-1 {
				t.Fatalf("refused after %d of %d bytes, not at the last one", len(bytewise.passed), len(c.stream))
			}
			checkInStep(t, bytewise, false)
			// after a refusal, nothing passes any more
			if _, err := newGuardAfter(c.stream).inspect([]byte{0x43}); err == nil {
				t.Fatal("guard not sticky")
			}
			t.Logf("refused after %d of %d bytes: %v", len(bytewise.passed), len(c.stream), whole.err)
		})
	}
}

func newGuardAfter(stream []byte) *chunkGuard {
	g := newChunkGuard(DefaultMaxChunkSize, DefaultMaxMessageSize)
	g.handshakeLeft = 0
	_, _ = g.inspect(stream)
	return g
}

func TestChunkGuardHandshake(t *testing.T) {
	hs := bytes.Repeat([]byte{0x03}, handshakeSize) // chunk-like bytes inside the handshake are not parsed
	stream := append(hs, publishSession(t, smallTags(t, "h264_aac.flv", 6), 4096, 0, false)...)
	for _, split := range []func(int) int{nil, oneByte, func(i int) int { return []int{1, 1536, 1536, 100}[i%4] }} {
		run := runGuard(stream, true, split)
		if run.err != nil || !bytes.Equal(run.passed, stream) {
			t.Fatalf("%v, %d of %d bytes", run.err, len(run.passed), len(stream))
		}
		checkInStep(t, run, true)
	}
	// the same hostile connect right after the handshake
	hostile := append(slices.Clone(hs), hostileStreams(t)[0].stream...)
	if run := runGuard(hostile, true, oneByte); !errors.Is(run.err, errRefusedInput) || len(run.passed) != len(hostile)-1 {
		t.Fatalf("%v after %d of %d bytes", run.err, len(run.passed), len(hostile))
	}
}

// FuzzChunkGuard: whatever the guard passes, go-rtmp reads in step with it without
// panicking; the result does not depend on how the bytes are split into reads; a
// stream without extended timestamps after type-3 headers is handed on unchanged,
// and one with them without exactly those bytes.
func FuzzChunkGuard(f *testing.F) {
	for _, c := range append(goodStreams(f), hostileStreams(f)...) {
		if !c.large {
			f.Add(c.stream)
		}
	}
	for _, c := range ext3Streams(f) {
		if !c.large {
			f.Add(c.stream)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		whole := runGuard(b, false, nil)
		bytewise := runGuard(b, false, oneByte)
		if (whole.err == nil) != (bytewise.err == nil) {
			t.Fatalf("one read: %v; 1 byte per read: %v", whole.err, bytewise.err)
		}
		if whole.err == nil {
			if !bytes.Equal(whole.passed, bytewise.passed) || whole.stripped != bytewise.stripped {
				t.Fatal("handed-on bytes depend on the read sizes")
			}
			if uint64(len(b)-len(whole.passed)) != whole.stripped {
				t.Fatalf("%d bytes missing, %d stripped", len(b)-len(whole.passed), whole.stripped)
			}
			if whole.stripped == 0 && !bytes.Equal(whole.passed, b) {
				t.Fatal("accepted bytes changed")
			}
		}
		if !slices.Equal(whole.msgs, bytewise.msgs) {
			t.Fatalf("messages differ: %v / %v", whole.msgs, bytewise.msgs)
		}
		checkInStep(t, bytewise, false)
	})
}

var writeCorpus = flag.Bool("write-corpus", false, "write the fuzz seed corpus to testdata/fuzz")

// TestWriteFuzzCorpus (go test -run TestWriteFuzzCorpus -write-corpus) writes the
// committed seed corpus of FuzzChunkGuard: the small good and hostile streams.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to regenerate testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzChunkGuard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var seeds []streamCase
	for _, c := range ext3Streams(t) {
		seeds = append(seeds, streamCase{stream: c.stream, large: c.large})
	}
	for _, c := range append(append(goodStreams(t), hostileStreams(t)...), seeds...) {
		if c.large {
			continue
		}
		name := fmt.Sprintf("%x", sha256.Sum256(c.stream))[:16]
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", c.stream)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mediaStream is the audio and video of h264_aac.flv chunked at chunkSize (after a
// Set Chunk Size), as the guard sees a publisher's steady state.
func mediaStream(b testing.TB, chunkSize uint32) []byte {
	var tags []flv.Tag
	for _, tg := range readTags(b, "h264_aac.flv") {
		if tg.Type != flv.TagScript {
			tags = append(tags, tg)
		}
	}
	w := newChunkWriter()
	w.write(setChunkSizeMsg(chunkSize))
	for _, tg := range tags {
		m := rtmpMsg{csid: 4, typ: msgAudio, msid: 1, ts: tg.Timestamp, body: tg.Data}
		if tg.Type == flv.TagVideo {
			m.csid, m.typ = 6, msgVideo
		}
		w.write(m)
	}
	return w.b
}

// BenchmarkChunkGuardMedia measures the guard on media in 4 KiB reads (go-rtmp's
// bufio size): ns per MB passed and allocations (0 expected).
func BenchmarkChunkGuardMedia(b *testing.B) {
	for _, cs := range []uint32{128, 4096, 65536} {
		b.Run(fmt.Sprintf("chunk%d", cs), func(b *testing.B) {
			stream := mediaStream(b, cs)
			g := newChunkGuard(DefaultMaxChunkSize, DefaultMaxMessageSize)
			g.handshakeLeft = 0
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				for p := stream; len(p) > 0; {
					n := min(4096, len(p))
					if _, err := g.inspect(p[:n]); err != nil {
						b.Fatal(err)
					}
					p = p[n:]
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(float64(len(stream))/1e6), "ns/MB")
		})
	}
}

// BenchmarkGoRTMPReadMedia is go-rtmp's own ChunkStreamer on the same streams, for
// comparison with BenchmarkChunkGuardMedia.
func BenchmarkGoRTMPReadMedia(b *testing.B) {
	for _, cs := range []uint32{128, 4096, 65536} {
		b.Run(fmt.Sprintf("chunk%d", cs), func(b *testing.B) {
			stream := mediaStream(b, cs)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				if msgs, err := goRTMPRead(stream); !errors.Is(err, io.EOF) || len(msgs) == 0 {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(float64(len(stream))/1e6), "ns/MB")
		})
	}
}

func TestChunkGuardMediaAllocatesNothing(t *testing.T) {
	stream := mediaStream(t, 4096)
	g := newChunkGuard(DefaultMaxChunkSize, DefaultMaxMessageSize)
	g.handshakeLeft = 0
	_, _ = g.inspect(stream) // chunk streams created
	allocs := testing.AllocsPerRun(5, func() {
		for p := stream; len(p) > 0; p = p[min(4096, len(p)):] {
			if _, err := g.inspect(p[:min(4096, len(p))]); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per pass of %d bytes of media", allocs, len(stream))
	}
}

// ext3Case is a stream with extended timestamps after type-3 headers, and the same
// messages without them (what the guard must hand on to go-rtmp).
type ext3Case struct {
	name         string
	stream, want []byte
	ts           []uint32 // timestamps go-rtmp must read
	ext3         int
	large        bool
}

// audioAhead moves each audio tag before the video tag preceding it when that one is
// older: on one chunk stream (ffmpeg's) the video timestamp then goes back and
// ffmpeg writes a type-0 header with the absolute timestamp.
func audioAhead(tags []flv.Tag) []flv.Tag {
	out := slices.Clone(tags)
	for i := 1; i < len(out); i++ {
		if out[i].Type == flv.TagAudio && out[i-1].Type == flv.TagVideo && out[i-1].Timestamp < out[i].Timestamp {
			out[i-1], out[i] = out[i], out[i-1]
			i++
		}
	}
	return out
}

// ext3Streams builds each case with the ffmpeg writer twice: as ffmpeg writes it and
// without the type-3 extended timestamps.
func ext3Streams(t testing.TB) []ext3Case {
	tags := readTags(t, "h264_aac.flv")
	small := smallTags(t, "h264_aac.flv", 12)
	build := func(name string, large, absolute bool, f func(w *ffmpegWriter)) ext3Case {
		w, plain := newFFmpegWriter(), newFFmpegWriter()
		w.absolute, plain.absolute, plain.noExt3 = absolute, absolute, true
		f(w)
		f(plain)
		return ext3Case{name: name, stream: w.b, want: plain.b, ts: w.ts, ext3: w.ext3, large: large}
	}
	session := func(tags []flv.Tag, chunk, offset uint32) func(w *ffmpegWriter) {
		return func(w *ffmpegWriter) { ffmpegPublishSession(t, w, "key1?mode=RTMP", tags, chunk, offset) }
	}
	const below = 16_770_000 // 7.2 s below 0xffffff ms
	video := func(n int) []byte { return append([]byte{0x27, 1, 0, 0, 0}, make([]byte, n)...) }
	return []ext3Case{
		build("ffmpeg publishing h264_aac.flv from 16 770 000 ms, chunk size 128", true, false, session(tags, 128, below)),
		build("ffmpeg publishing h264_aac.flv from 16 770 000 ms, chunk size 4096", true, false, session(tags, 4096, below)),
		build("ffmpeg publishing h264_aac.flv from 0x1000000 ms, chunk size 128", true, false, session(tags, 128, 0x1000000)),
		build("ffmpeg publishing h264_aac.flv from 16 770 000 ms with audio sent ahead (timestamps going back)", true, false,
			session(audioAhead(tags), 128, below)),
		build("type-0 headers only, h264_aac.flv from 16 770 000 ms, chunk size 128", true, true, session(tags, 128, below)),
		build("type-0 headers only, h264_aac.flv from 16 770 000 ms, chunk size 4096", true, true, session(tags, 4096, below)),
		build("type-0 headers only, first tags above 0xffffff, chunk size 128", false, true, session(small, 128, 0xfffff0)),
		build("first tags from 0x1000000, chunk size 128", false, false, session(small, 128, 0x1000000)),
		build("2-byte basic headers, continuations and type-3 message starts", false, false, func(w *ffmpegWriter) {
			w.write(commandMsg(t, 0, "connect", 1.0, map[string]any{"app": "live"}))
			for _, csid := range []int{4, 100, 319} {
				w.write(rtmpMsg{csid: csid, typ: msgVideo, msid: 1, ts: 0x12345678, body: video(300)}, // type 0, ext
					rtmpMsg{csid: csid, typ: msgVideo, msid: 1, ts: 0x12345678 + 40, body: video(300)},  // type 3 after type 0
					rtmpMsg{csid: csid, typ: msgVideo, msid: 1, ts: 0x12345678 + 80, body: video(500)},  // type 1, no ext
					rtmpMsg{csid: csid, typ: msgVideo, msid: 1, ts: 0x12345678 + 120, body: video(500)}) // type 3
			}
		}),
		build("type-3 message starts with a delta ≥ 0xffffff", false, false, func(w *ffmpegWriter) {
			w.write(commandMsg(t, 0, "connect", 1.0, map[string]any{"app": "live"}),
				rtmpMsg{csid: 6, typ: msgVideo, msid: 1, ts: 10, body: video(200)},
				rtmpMsg{csid: 6, typ: msgVideo, msid: 1, ts: 10 + 0x1000000, body: video(200)},   // type 2, ext
				rtmpMsg{csid: 6, typ: msgVideo, msid: 1, ts: 10 + 2*0x1000000, body: video(200)}, // type 3, ext
				rtmpMsg{csid: 6, typ: msgVideo, msid: 1, ts: 20 + 2*0x1000000, body: video(200)}) // type 2, no ext
		}),
	}
}

// TestChunkGuardStripsType3ExtendedTimestamps: streams written as ffmpeg writes
// them, with extended timestamps after type-3 headers, are handed on without them
// (byte for byte the go-rtmp form of the same messages), whatever the read sizes,
// and go-rtmp reads every message with its timestamp.
func TestChunkGuardStripsType3ExtendedTimestamps(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	splits := map[string]func(int) int{
		"one read":        nil,
		"1 byte per read": oneByte,
		"2 bytes":         func(int) int { return 2 },
		"random reads":    func(int) int { return 1 + rng.IntN(300) },
		"32 KiB reads":    func(int) int { return 32 << 10 },
	}
	for _, c := range ext3Streams(t) {
		t.Run(c.name, func(t *testing.T) {
			for name, split := range splits {
				run := runGuard(c.stream, false, split)
				if run.err != nil {
					t.Fatalf("%s: %v", name, run.err)
				}
				if !bytes.Equal(run.passed, c.want) {
					t.Fatalf("%s: %d bytes handed on, want the %d of the go-rtmp form", name, len(run.passed), len(c.want))
				}
				checkInStep(t, run, false)
			}
			msgs, ts, err := goRTMPTimestamps(c.want)
			if !errors.Is(err, io.EOF) || len(msgs) != len(c.ts) {
				t.Fatalf("go-rtmp read %d of %d messages: %v", len(msgs), len(c.ts), err)
			}
			for i := range ts {
				if ts[i] != c.ts[i] {
					t.Fatalf("message %d (%v): go-rtmp timestamp %d, written %d", i, msgs[i], ts[i], c.ts[i])
				}
			}
			// unstripped, go-rtmp loses sync
			if c.ext3 > 0 {
				if got, _, err := goRTMPTimestamps(c.stream); err == nil || slices.Equal(got, msgs) {
					t.Fatalf("go-rtmp read the unstripped stream: %v", err)
				}
			}
			t.Logf("%d bytes, %d messages, %d extended timestamps after type-3 headers stripped", len(c.stream), len(msgs), c.ext3)
		})
	}
}

// mediaStreamExt3 is mediaStream written with a type-0 header for every message at
// timestamps above 0xffffff: an extended timestamp after every type-3 header.
func mediaStreamExt3(b testing.TB, chunkSize uint32) []byte {
	w := newFFmpegWriter()
	w.absolute = true
	w.write(setChunkSizeMsg(chunkSize))
	for _, tg := range readTags(b, "h264_aac.flv") {
		if tg.Type != flv.TagScript {
			w.write(rtmpMsg{csid: 8, typ: tg.Type, msid: 1, ts: tg.Timestamp + 0x1000000, body: tg.Data})
		}
	}
	return w.b
}

// BenchmarkChunkGuardStrip measures the guard stripping the extended timestamps
// after type-3 headers (each 4 KiB read copied to a scratch buffer first, as the
// guard compacts it in place): 0 allocations expected.
func BenchmarkChunkGuardStrip(b *testing.B) {
	for _, cs := range []uint32{128, 4096} {
		b.Run(fmt.Sprintf("chunk%d", cs), func(b *testing.B) {
			stream := mediaStreamExt3(b, cs)
			g := newChunkGuard(DefaultMaxChunkSize, DefaultMaxMessageSize)
			g.handshakeLeft = 0
			buf := make([]byte, 4096)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				for p := stream; len(p) > 0; {
					n := copy(buf, p)
					if _, err := g.inspect(buf[:n]); err != nil {
						b.Fatal(err)
					}
					p = p[n:]
				}
			}
			b.ReportMetric(float64(g.stripped)/float64(b.N), "stripped-bytes/op")
		})
	}
}
