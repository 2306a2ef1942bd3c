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
// Like go-rtmp v0.0.7 (and unlike RTMP spec §5.3.1.3) it reads no extended
// timestamp after a type-3 chunk header; Abort (2) is decoded by go-rtmp but not
// acted upon, so it changes nothing here either.
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

// inspect parses p, the next bytes of the connection. A non-nil error (wrapping
// errRefusedInput) means that none of p may be passed on; it is returned again by
// every later call.
func (g *chunkGuard) inspect(p []byte) error {
	if g.err != nil {
		return g.err
	}
	if g.handshakeLeft > 0 {
		n := min(g.handshakeLeft, len(p))
		g.handshakeLeft -= n
		p = p[n:]
	}
	for len(p) > 0 {
		if g.payloadLeft == 0 {
			if g.hdrLen == 0 && p[0]&0x3f == 1 {
				g.err = fmt.Errorf("%w: 3-byte chunk basic header", errRefusedInput)
				return g.err
			}
			n, done := g.readHeader(p)
			p = p[n:]
			if !done {
				return nil
			}
			if err := g.startChunk(); err != nil {
				g.err = err
				return err
			}
			continue
		}
		n := len(p)
		if uint64(n) > uint64(g.payloadLeft) {
			n = int(g.payloadLeft)
		}
		if err := g.payload(p[:n]); err != nil {
			g.err = err
			return err
		}
		p = p[n:]
	}
	return nil
}

// readHeader copies header bytes from p until the chunk header is complete; it
// returns the bytes used and whether the header is complete.
func (g *chunkGuard) readHeader(p []byte) (used int, done bool) {
	for {
		need := g.headerSize()
		if g.hdrLen == need {
			return used, true
		}
		if used == len(p) {
			return used, false
		}
		n := copy(g.hdr[g.hdrLen:need], p[used:])
		g.hdrLen += n
		used += n
	}
}

// headerSize is the length of the chunk header as far as the bytes read so far
// tell: basic header (1–3 bytes by the csid field; inspect refuses the 3-byte
// form), message header by format, and 4 more bytes when the 24-bit timestamp
// field of a type 0, 1 or 2 header is 0xffffff.
func (g *chunkGuard) headerSize() int {
	if g.hdrLen == 0 {
		return 1
	}
	h := g.hdr[:g.hdrLen]
	basic := 1
	switch h[0] & 0x3f {
	case 0:
		basic = 2
	case 1:
		basic = 3
	}
	mh := messageHeaderSizes[h[0]>>6]
	if mh > 0 && len(h) >= basic+3 && h[basic] == 0xff && h[basic+1] == 0xff && h[basic+2] == 0xff {
		return basic + mh + 4
	}
	return basic + mh
}

// startChunk applies a complete chunk header as go-rtmp's readChunk does.
func (g *chunkGuard) startChunk() error {
	h := g.hdr[:g.hdrLen]
	g.hdrLen = 0
	format, csid, off := h[0]>>6, int(h[0]&0x3f), 1
	switch csid {
	case 0:
		csid, off = int(h[1])+64, 2
	case 1:
		csid, off = int(h[2])*256+int(h[1])+64, 3
	}
	i, err := g.stream(csid)
	if err != nil {
		return err
	}
	s := &g.streams[i]
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
