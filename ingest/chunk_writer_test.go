package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"testing"

	"github.com/yutopp/go-amf0"
	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// rtmpMsg is one RTMP message for chunkWriter.
type rtmpMsg struct {
	csid int
	typ  byte
	msid uint32
	ts   uint32
	body []byte
}

// chunkWriter encodes messages into chunks as a client does (RTMP spec §5.3): the
// first message of a chunk stream with a type-0 header, later ones with type 1, 2 or
// 3 like go-rtmp's writer, continuation chunks with type 3, and an extended
// timestamp after a type 0, 1 or 2 header whose timestamp field reaches 0xffffff
// (none after type 3, like go-rtmp). A Set Chunk Size it writes applies to the
// chunks after it.
type chunkWriter struct {
	b         []byte
	chunkSize int
	streams   map[int]*cwStream
	// contType2 writes continuation chunks with a type-2 header (same delta), which
	// go-rtmp accepts in the middle of a message.
	contType2 bool
}

type cwStream struct {
	started           bool
	ts, delta, length uint32
	msid              uint32
	typ               byte
}

func newChunkWriter() *chunkWriter {
	return &chunkWriter{chunkSize: defaultPeerChunkSize, streams: map[int]*cwStream{}}
}

func (w *chunkWriter) basicHeader(format byte, csid int) {
	switch {
	case csid < 64:
		w.b = append(w.b, format<<6|byte(csid))
	case csid < 320:
		w.b = append(w.b, format<<6, byte(csid-64))
	default:
		w.b = append(w.b, format<<6|1, byte((csid-64)&0xff), byte((csid-64)>>8))
	}
}

func put24(b []byte, v uint32) []byte { return append(b, byte(v>>16), byte(v>>8), byte(v)) }

// first writes the header of a message's first chunk.
func (w *chunkWriter) first(m rtmpMsg) {
	s := w.streams[m.csid]
	if s == nil {
		s = &cwStream{}
		w.streams[m.csid] = s
	}
	length := uint32(len(m.body))
	var format byte
	switch {
	case !s.started || s.msid != m.msid || m.ts < s.ts:
		format = 0
	case s.length != length || s.typ != m.typ:
		format = 1
	case m.ts-s.ts != s.delta:
		format = 2
	default:
		format = 3
	}
	if format != 0 {
		s.delta = m.ts - s.ts
	}
	s.started, s.ts, s.length, s.typ, s.msid = true, m.ts, length, m.typ, m.msid
	w.basicHeader(format, m.csid)
	field := s.delta
	if format == 0 {
		field = m.ts
	}
	if format < 3 {
		w.b = put24(w.b, min(field, 0xffffff))
	}
	if format <= 1 {
		w.b = put24(w.b, length)
		w.b = append(w.b, m.typ)
	}
	if format == 0 {
		w.b = binary.LittleEndian.AppendUint32(w.b, m.msid)
	}
	if format < 3 && field >= 0xffffff {
		w.b = binary.BigEndian.AppendUint32(w.b, field)
	}
}

// write writes msgs one after the other.
func (w *chunkWriter) write(msgs ...rtmpMsg) *chunkWriter {
	for _, m := range msgs {
		w.interleave(m)
	}
	return w
}

// interleave writes msgs (on distinct chunk streams) a chunk of each in turn.
func (w *chunkWriter) interleave(msgs ...rtmpMsg) *chunkWriter {
	sent := make([]int, len(msgs))
	for left := len(msgs); left > 0; {
		for i, m := range msgs {
			if sent[i] < 0 {
				continue
			}
			switch {
			case sent[i] == 0:
				w.first(m)
			case w.contType2:
				w.basicHeader(2, m.csid)
				w.b = put24(w.b, min(w.streams[m.csid].delta, 0xffffff))
				if d := w.streams[m.csid].delta; d >= 0xffffff {
					w.b = binary.BigEndian.AppendUint32(w.b, d)
				}
			default:
				w.basicHeader(3, m.csid)
			}
			n := min(w.chunkSize, len(m.body)-sent[i])
			w.b = append(w.b, m.body[sent[i]:sent[i]+n]...)
			sent[i] += n
			if sent[i] == len(m.body) {
				sent[i] = -1
				left--
				if m.typ == msgSetChunkSize && len(m.body) >= 4 {
					w.chunkSize = int(binary.BigEndian.Uint32(m.body))
				}
			}
		}
	}
	return w
}

func setChunkSizeMsg(n uint32) rtmpMsg {
	return rtmpMsg{csid: 2, typ: msgSetChunkSize, body: binary.BigEndian.AppendUint32(nil, n)}
}

// amfBody encodes values with go-amf0; []byte values are appended as they are.
func amfBody(t testing.TB, vals ...any) []byte {
	var buf bytes.Buffer
	enc := amf0.NewEncoder(&buf)
	for _, v := range vals {
		if raw, ok := v.([]byte); ok {
			buf.Write(raw)
			continue
		}
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func commandMsg(t testing.TB, msid uint32, vals ...any) rtmpMsg {
	return rtmpMsg{csid: 3, typ: msgCommandAMF0, msid: msid, body: amfBody(t, vals...)}
}

// strictArray is an AMF0 strict array declaring n values followed by vals.
func strictArray(n uint32, vals ...byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{0x0a}, n), vals...)
}

// amfObject is an AMF0 object with one property.
func amfObject(key string, value []byte) []byte {
	b := append([]byte{0x03, 0, byte(len(key))}, key...)
	return append(append(b, value...), 0, 0, 9)
}

// guardMsg is a message as the guard or go-rtmp saw it: chunk stream, type, length.
type guardMsg struct {
	csid int
	typ  byte
	n    uint32
}

func (m guardMsg) String() string { return fmt.Sprintf("cs%d/t%d/%d", m.csid, m.typ, m.n) }

// guardRun is the result of passing a stream through a guard.
type guardRun struct {
	passed   []byte // what Read returned, in order
	msgs     []guardMsg
	err      error
	stripped uint64 // extended-timestamp bytes the guard removed
}

// guardedReader is conn.Read's read side without the socket: r's bytes go through
// g; on a refusal nothing of that read is returned.
type guardedReader struct {
	r io.Reader
	g *chunkGuard
}

func (gr *guardedReader) Read(b []byte) (int, error) {
	n, err := gr.r.Read(b)
	if n > 0 {
		kept, gerr := gr.g.inspect(b[:n])
		if gerr != nil {
			return 0, gerr
		}
		n = kept
	}
	return n, err
}

// runGuard reads in through a fresh guard in reads of the sizes split returns
// (split(i) for the i-th read; nil: all at once). handshake tells whether in starts
// with the 3073 handshake bytes.
func runGuard(in []byte, handshake bool, split func(i int) int) guardRun {
	g := newChunkGuard(DefaultMaxChunkSize, DefaultMaxMessageSize)
	if !handshake {
		g.handshakeLeft = 0
	}
	var run guardRun
	g.onMessage = func(csid int, typ byte, length uint32, _ []byte) {
		run.msgs = append(run.msgs, guardMsg{csid: csid, typ: typ, n: length})
	}
	r := &guardedReader{r: bytes.NewReader(in), g: g}
	buf := make([]byte, len(in)+1)
	for i := 0; ; i++ {
		size := len(buf)
		if split != nil {
			size = max(1, min(split(i), len(buf)))
		}
		n, err := r.Read(buf[:size])
		run.passed = append(run.passed, buf[:n]...)
		run.stripped = g.stripped
		if err != nil {
			if !errors.Is(err, io.EOF) {
				run.err = err
			}
			return run
		}
	}
}

func oneByte(int) int { return 1 }

var (
	errGoRTMPPanic  = errors.New("go-rtmp panicked")
	errGoRTMPDecode = errors.New("go-rtmp cannot decode the message")
)

// goRTMPRead reads a chunk stream (after the handshake) with go-rtmp's own
// ChunkStreamer configured as our server configures it, as its ChunkStreamer.Read
// does: NewChunkReader for each complete message, whose chunk stream, type and
// length are read from go-rtmp's reader (unexported fields, by reflection), then the
// message decoder; a Set Chunk Size is applied as go-rtmp's connection does. It
// stops at the first error: errGoRTMPDecode wraps a message go-rtmp cannot decode
// (the server would end the connection there), errGoRTMPPanic a panic inside
// go-rtmp (its message loop would recover it), other errors come from the chunk
// level (io.EOF at the end of in).
func goRTMPRead(in []byte) (msgs []guardMsg, err error) {
	return goRTMPReadFunc(in, nil)
}

// goRTMPTimestamps returns the timestamps go-rtmp reads for the messages of in.
func goRTMPTimestamps(in []byte) (msgs []guardMsg, ts []uint32, err error) {
	msgs, err = goRTMPReadFunc(in, func(_ guardMsg, t uint32) { ts = append(ts, t) })
	return msgs, ts, err
}

// goRTMPReadFunc is goRTMPRead calling fn, when set, with each message and the
// timestamp go-rtmp gives it.
func goRTMPReadFunc(in []byte, fn func(m guardMsg, ts uint32)) (msgs []guardMsg, err error) {
	cs := rtmp.NewChunkStreamer(bytes.NewReader(in), io.Discard, &rtmp.StreamControlStateConfig{
		DefaultChunkSize: defaultPeerChunkSize, MaxChunkSize: DefaultMaxChunkSize,
		MaxChunkStreams: maxChunkStreams, MaxMessageSize: DefaultMaxMessageSize,
		DefaultAckWindowSize: math.MaxInt32, MaxAckWindowSize: math.MaxInt32,
		DefaultBandwidthWindowSize: math.MaxInt32, MaxBandwidthWindowSize: math.MaxInt32,
		MaxMessageStreams: math.MaxInt32,
	})
	defer cs.Close()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errGoRTMPPanic, r)
		}
	}()
	for {
		r, err := cs.NewChunkReader()
		if err != nil {
			return msgs, err
		}
		v := reflect.ValueOf(r).Elem()
		m := guardMsg{csid: int(v.FieldByName("basicHeader").FieldByName("chunkStreamID").Int()),
			typ: byte(v.FieldByName("messageTypeID").Uint()), n: uint32(v.FieldByName("messageLength").Uint())}
		msgs = append(msgs, m)
		if fn != nil {
			fn(m, uint32(v.FieldByName("timestamp").Uint()))
		}
		var msg message.Message
		if err := message.NewDecoder(r).Decode(message.TypeID(m.typ), &msg); err != nil {
			return msgs, fmt.Errorf("%w: %w", errGoRTMPDecode, err)
		}
		if scs, ok := msg.(*message.SetChunkSize); ok {
			if err := cs.PeerState().SetChunkSize(scs.ChunkSize); err != nil {
				return msgs, fmt.Errorf("%w: %w", errGoRTMPDecode, err)
			}
		}
	}
}

// checkInStep asserts that go-rtmp, reading what the guard passed, completes the
// same messages as the guard (stopping early only where it cannot decode one, as
// the server would), never panics, and never completes a message the guard did
// not pass.
func checkInStep(t testing.TB, run guardRun, handshake bool) {
	t.Helper()
	passed := run.passed
	if handshake {
		if len(passed) < handshakeSize {
			return
		}
		passed = passed[handshakeSize:]
	}
	got, err := goRTMPRead(passed)
	if errors.Is(err, errGoRTMPPanic) {
		t.Fatalf("go-rtmp: %v", err)
	}
	if len(got) > len(run.msgs) {
		t.Fatalf("go-rtmp completed %d messages, the guard passed %d", len(got), len(run.msgs))
	}
	for i := range got {
		if got[i] != run.msgs[i] {
			t.Fatalf("message %d: go-rtmp %v, guard %v", i, got[i], run.msgs[i])
		}
	}
	if !errors.Is(err, errGoRTMPDecode) && len(got) != len(run.msgs) {
		t.Fatalf("go-rtmp stopped (%v) after %d messages, the guard passed %d", err, len(got), len(run.msgs))
	}
}
