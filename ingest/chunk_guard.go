package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/roomcast/roomcast/ingest/flv"
)

// RTMP message type IDs (RTMP spec §5.4, §6.2, §7.1).
const (
	msgSetChunkSize     = 1
	msgAbort            = 2
	msgAck              = 3
	msgUserControl      = 4
	msgWinAckSize       = 5
	msgSetPeerBandwidth = 6
	msgAudio            = 8
	msgVideo            = 9
	msgDataAMF3         = 15
	msgCommandAMF3      = 17
	msgDataAMF0         = 18
	msgCommandAMF0      = 20
)

const (
	// handshakeSize is C0+C1 (1+1536 bytes) and C2 (1536 bytes): what go-rtmp's
	// handshake reads before the chunk stream starts (RTMP spec §5.2).
	handshakeSize = 1 + 1536 + 1536
	// defaultPeerChunkSize is the chunk size until the peer sets one (§5.4.1).
	defaultPeerChunkSize = 128
	// maxAMFMessageSize bounds a command or data message. Real ones take a few
	// hundred bytes (onMetaData of OBS/ffmpeg < 1 KiB); go-amf0 may allocate about
	// 20 bytes per byte of a validated body.
	maxAMFMessageSize = 64 << 10
	// maxControlMessageSize bounds protocol control and user control messages
	// (4 to 10 bytes in the spec).
	maxControlMessageSize = 64
	// keptBodyCap: assembly buffers larger than this are dropped after use.
	keptBodyCap = 4 << 10
	// maxChunkHeader is the largest chunk header: 3-byte basic header, 11-byte
	// type-0 message header, 4-byte extended timestamp (§5.3.1).
	maxChunkHeader = 3 + 11 + 4
	// maxMessageLength is the largest length a message header carries (24 bits).
	maxMessageLength = 0xffffff
)

// errRefusedInput wraps every refusal of the chunk guard.
var errRefusedInput = errors.New("RTMP input refused")

// messageHeaderSizes by chunk format (fmt 0..3, RTMP spec §5.3.1.2).
var messageHeaderSizes = [4]int{11, 7, 3, 0}

// chunkGuard inspects the bytes a peer sends before go-rtmp reads them. It parses
// the chunk stream exactly as go-rtmp v0.0.7's ChunkStreamer does (so both agree on
// every chunk boundary), and refuses — before go-rtmp could decode anything from
// them — input that would make go-rtmp or go-amf0 allocate without bound, panic or
// desynchronise:
//
//   - command (20) and data (18) messages are assembled and their bodies checked
//     with flv.ValidateAMF0 (go-amf0 allocates a strict array by its declared
//     count); they may be at most maxAMFMessageSize long;
//   - audio and video messages are not buffered, only their headers are tracked;
//     they may be at most maxMessageSize long (go-rtmp does not enforce its own
//     MaxMessageSize); control messages at most maxControlMessageSize;
//   - other message types (AMF3 15/17, shared objects, aggregates, unknown) are
//     refused: go-rtmp would end the connection on them anyway;
//   - the peer's Set Chunk Size is applied as go-rtmp applies it, and refused where
//     go-rtmp would fail (0, bit 31 set, above maxChunkSize);
//   - 3-byte basic headers (chunk stream IDs 320 and up): go-rtmp v0.0.7 reads
//     their last two bytes with io.ReadAtLeast into its 64 KiB cache buffer, so it
//     swallows whatever its bufio.Reader holds after them — how much depends on TCP
//     segmentation, so nothing can parse in step with it. Clients use IDs 2 to ~10;
//   - zero-length messages (go-rtmp panics), a type 0 or 1 header in the middle of
//     a message (go-rtmp would splice two messages), more than maxChunkStreams
//     chunk streams, and chunk streams holding together more than maxRetained bytes
//     of messages (go-rtmp keeps a buffer per chunk stream as large as its largest
//     message) are refused.
//
// Extended timestamps after type-3 headers (RTMP spec §5.3.1.3): a chunk stream
// whose last type 0, 1 or 2 header had 0xffffff in its timestamp field carries a
// 4-byte extended timestamp after each type-3 header too — continuation chunks and
// type-3 headers that start a message alike — as ffmpeg (libavformat/rtmppkt.c
// ff_rtmp_packet_write and rtmp_packet_read_one_chunk), librtmp (OBS), nginx-rtmp,
// SRS and MediaMTX write and read them. go-rtmp v0.0.7 reads none there, so the guard
// strips those 4 bytes from what it hands on (inspect compacts the read in place):
// go-rtmp then parses a stream it understands. The value is not needed: a
// continuation repeats its message's timestamp, and a type-3 header that starts a
// message means "the previous delta" to go-rtmp; a writer only puts a different
// value there after two consecutive deltas of 4 h 39 min or more on a chunk stream.
// A client that leaves the 4 bytes out after such a header (as go-rtmp's own
// writer does) is misread here, as ffmpeg and nginx-rtmp misread it.
// Abort (2) is decoded by go-rtmp but not acted upon, so it changes nothing here.
//
// The guard runs inside conn.Read: a message completes only when its last byte has
// been inspected, and Read returns nothing of a read in which the guard refused
// something, so go-rtmp never decodes a message the guard has not validated.
// Nothing is allocated from a declared length: assembly buffers grow with the bytes
// received. A chunkGuard is used by one goroutine (go-rtmp's reader).
type chunkGuard struct {
	maxChunkSize   uint32
	maxMessageSize uint32
	maxRetained    uint64

	handshakeLeft int
	chunkSize     uint32 // the peer's
	hdr           [maxChunkHeader]byte
	hdrLen        int
	cur           int    // index in streams of the chunk whose payload is being read
	payloadLeft   uint32 // bytes of that payload still to come; 0 while reading a header
	streams       []guardStream
	retained      uint64 // sum of the streams' highWater
	err           error  // sticky refusal
	stripped      uint64 // extended-timestamp bytes removed after type-3 headers

	// onMessage, when set (tests), sees every message that passed the guard.
	onMessage func(csid int, typ byte, length uint32, body []byte)
}

// guardStream is the state of one chunk stream: go-rtmp's ChunkStreamReader without
// the payload of media messages.
type guardStream struct {
	csid      int
	length    uint32 // of the current message
	received  uint32 // bytes of it received so far
	typ       byte
	highWater uint32 // largest message length seen: the size of go-rtmp's buffer
	body      []byte // command, data and Set Chunk Size bodies being assembled
	// ext: the timestamp field of the chunk stream's last type 0, 1 or 2 header was
	// 0xffffff, so its type-3 headers carry an extended timestamp (stripped).
	ext bool
}

func newChunkGuard(maxChunkSize, maxMessageSize int) *chunkGuard {
	return &chunkGuard{
		maxChunkSize:   uint32(maxChunkSize),
		maxMessageSize: uint32(maxMessageSize),
		maxRetained:    2*uint64(maxMessageSize) + maxAMFMessageSize,
		handshakeLeft:  handshakeSize,
		chunkSize:      defaultPeerChunkSize,
		streams:        make([]guardStream, 0, 8),
	}
}

// inspect parses p, the next bytes of the connection, and removes from it the
// extended timestamps after type-3 headers (see chunkGuard), compacting p in place;
// it returns how many bytes of p are left to hand on. A non-nil error (wrapping
// errRefusedInput) means that none of p may be passed on; it is returned again by
// every later call.
func (g *chunkGuard) inspect(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	r, w := 0, 0
	if g.handshakeLeft > 0 {
		n := min(g.handshakeLeft, len(p))
		g.handshakeLeft -= n
		r, w = n, n
	}
	for r < len(p) {
		if g.payloadLeft == 0 {
			if g.hdrLen == 0 && p[r]&0x3f == 1 {
				g.err = fmt.Errorf("%w: 3-byte chunk basic header", errRefusedInput)
				return 0, g.err
			}
			used, kept, done := g.readHeader(p[r:])
			w = keep(p, w, r, kept)
			r += used
			g.stripped += uint64(used - kept)
			if !done {
				return w, nil
			}
			if err := g.startChunk(); err != nil {
				g.err = err
				return 0, err
			}
			continue
		}
		n := len(p) - r
		if uint64(n) > uint64(g.payloadLeft) {
			n = int(g.payloadLeft)
		}
		if err := g.payload(p[r : r+n]); err != nil {
			g.err = err
			return 0, err
		}
		w = keep(p, w, r, n)
		r += n
	}
	return w, nil
}

// keep moves the n bytes of p at r to w (nothing to move until something was
// stripped) and returns the new write index.
func keep(p []byte, w, r, n int) int {
	if w != r {
		copy(p[w:], p[r:r+n])
	}
	return w + n
}

// readHeader copies header bytes from p until the chunk header is complete; it
// returns the bytes used, how many of them (a prefix) are handed on — all but the
// extended timestamp of a type-3 header — and whether the header is complete.
func (g *chunkGuard) readHeader(p []byte) (used, kept int, done bool) {
	for {
		need := g.headerSize()
		if g.hdrLen == need {
			return used, kept, true
		}
		if used == len(p) {
			return used, kept, false
		}
		n := copy(g.hdr[g.hdrLen:need], p[used:])
		if g.hdrLen == 0 || g.hdr[0]>>6 != 3 {
			kept += n
		} else { // a type-3 header: only its basic header is handed on
			kept += max(0, min(g.hdrLen+n, basicHeaderSize(g.hdr[0]))-g.hdrLen)
		}
		g.hdrLen += n
		used += n
	}
}

// headerSize is the length of the chunk header as far as the bytes read so far
// tell: basic header (1–3 bytes by the csid field; inspect refuses the 3-byte
// form), message header by format, and 4 more bytes when the 24-bit timestamp
// field of a type 0, 1 or 2 header is 0xffffff, or for a type-3 header when the
// chunk stream's last other header had such a field.
func (g *chunkGuard) headerSize() int {
	if g.hdrLen == 0 {
		return 1
	}
	h := g.hdr[:g.hdrLen]
	basic := basicHeaderSize(h[0])
	format := h[0] >> 6
	if format == 3 {
		if len(h) >= basic && g.extAfterType3(h) {
			return basic + 4
		}
		return basic
	}
	mh := messageHeaderSizes[format]
	if len(h) >= basic+3 && h[basic] == 0xff && h[basic+1] == 0xff && h[basic+2] == 0xff {
		return basic + mh + 4
	}
	return basic + mh
}

// basicHeaderSize is the length of a chunk basic header by its first byte (§5.3.1.1).
func basicHeaderSize(b0 byte) int {
	switch b0 & 0x3f {
	case 0:
		return 2
	case 1:
		return 3
	}
	return 1
}

// extAfterType3 reports whether the chunk stream of the complete basic header h
// expects an extended timestamp after a type-3 header.
func (g *chunkGuard) extAfterType3(h []byte) bool {
	csid, _ := chunkStreamID(h)
	for i := range g.streams {
		if g.streams[i].csid == csid {
			return g.streams[i].ext
		}
	}
	return false
}

// chunkStreamID decodes a complete 1- or 2-byte basic header (the 3-byte form is
// refused before it gets here); off is the length of the basic header.
func chunkStreamID(h []byte) (csid, off int) {
	switch csid = int(h[0] & 0x3f); csid {
	case 0:
		return int(h[1]) + 64, 2
	case 1:
		return int(h[2])*256 + int(h[1]) + 64, 3
	}
	return csid, 1
}

// startChunk applies a complete chunk header as go-rtmp's readChunk does.
func (g *chunkGuard) startChunk() error {
	h := g.hdr[:g.hdrLen]
	g.hdrLen = 0
	format := h[0] >> 6
	csid, off := chunkStreamID(h)
	i, err := g.stream(csid)
	if err != nil {
		return err
	}
	s := &g.streams[i]
	if format < 3 {
		s.ext = h[off] == 0xff && h[off+1] == 0xff && h[off+2] == 0xff
	}
	if format <= 1 {
		if s.received > 0 {
			return fmt.Errorf("%w: chunk stream %d: type %d header in the middle of a message",
				errRefusedInput, csid, format)
		}
		s.length = uint32(h[off+3])<<16 | uint32(h[off+4])<<8 | uint32(h[off+5])
		s.typ = h[off+6]
	}
	if s.received == 0 {
		if err := g.startMessage(s); err != nil {
			return err
		}
	}
	g.cur = i
	g.payloadLeft = min(s.length-s.received, g.chunkSize)
	return nil
}

// stream returns the index of csid's state, creating it within maxChunkStreams
// (go-rtmp's ControlState.MaxChunkStreams).
func (g *chunkGuard) stream(csid int) (int, error) {
	for i := range g.streams {
		if g.streams[i].csid == csid {
			return i, nil
		}
	}
	if len(g.streams) >= maxChunkStreams {
		return 0, fmt.Errorf("%w: more than %d chunk streams", errRefusedInput, maxChunkStreams)
	}
	g.streams = append(g.streams, guardStream{csid: csid})
	return len(g.streams) - 1, nil
}

// startMessage checks the type and length of a message whose first chunk starts.
func (g *chunkGuard) startMessage(s *guardStream) error {
	var limit uint32
	switch s.typ {
	case msgSetChunkSize, msgAbort, msgAck, msgUserControl, msgWinAckSize, msgSetPeerBandwidth:
		limit = maxControlMessageSize
	case msgAudio, msgVideo:
		limit = g.maxMessageSize
	case msgDataAMF0, msgCommandAMF0:
		limit = maxAMFMessageSize
	case msgDataAMF3, msgCommandAMF3:
		return fmt.Errorf("%w: chunk stream %d: AMF3 message (type %d) not supported", errRefusedInput, s.csid, s.typ)
	default:
		return fmt.Errorf("%w: chunk stream %d: message type %d not accepted", errRefusedInput, s.csid, s.typ)
	}
	if s.length == 0 {
		return fmt.Errorf("%w: chunk stream %d: empty message of type %d", errRefusedInput, s.csid, s.typ)
	}
	if s.length > limit {
		return fmt.Errorf("%w: chunk stream %d: message of type %d and %d bytes exceeds %d",
			errRefusedInput, s.csid, s.typ, s.length, limit)
	}
	if s.length > s.highWater {
		g.retained += uint64(s.length - s.highWater)
		s.highWater = s.length
		if g.retained > g.maxRetained {
			return fmt.Errorf("%w: chunk streams would hold %d bytes (limit %d)", errRefusedInput, g.retained, g.maxRetained)
		}
	}
	s.body = s.body[:0]
	return nil
}

// payload takes the next bytes of the current chunk's payload.
func (g *chunkGuard) payload(p []byte) error {
	s := &g.streams[g.cur]
	switch s.typ {
	case msgSetChunkSize, msgDataAMF0, msgCommandAMF0:
		s.body = append(s.body, p...)
	}
	n := uint32(len(p))
	s.received += n
	g.payloadLeft -= n
	if g.payloadLeft > 0 || s.received < s.length {
		return nil
	}
	return g.endMessage(s)
}

// endMessage validates a complete message and applies a Set Chunk Size.
func (g *chunkGuard) endMessage(s *guardStream) error {
	s.received = 0
	switch s.typ {
	case msgSetChunkSize:
		if err := g.setChunkSize(s.body); err != nil {
			return err
		}
	case msgDataAMF0, msgCommandAMF0:
		if err := flv.ValidateAMF0(s.body); err != nil {
			return fmt.Errorf("%w: chunk stream %d: message of type %d: %w", errRefusedInput, s.csid, s.typ, err)
		}
	}
	if g.onMessage != nil {
		g.onMessage(s.csid, s.typ, s.length, s.body)
	}
	if cap(s.body) > keptBodyCap {
		s.body = nil
	}
	return nil
}

// setChunkSize mirrors go-rtmp: message.Decoder's decodeSetChunkSize (4 bytes,
// bit 31 clear, not 0) then StreamControlState.SetChunkSize (clamped to 0xffffff,
// at most MaxChunkSize).
func (g *chunkGuard) setChunkSize(body []byte) error {
	if len(body) < 4 {
		return fmt.Errorf("%w: Set Chunk Size of %d bytes", errRefusedInput, len(body))
	}
	v := binary.BigEndian.Uint32(body)
	if v&0x80000000 != 0 || v == 0 {
		return fmt.Errorf("%w: Set Chunk Size %#x", errRefusedInput, v)
	}
	v = min(v, maxMessageLength)
	if v > g.maxChunkSize {
		return fmt.Errorf("%w: Set Chunk Size %d exceeds %d", errRefusedInput, v, g.maxChunkSize)
	}
	g.chunkSize = v
	return nil
}
