package flv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/roomcast/roomcast/ingest/hub"
)

// Errors returned by Demuxer.Push. Callers branch on them with errors.Is.
var (
	// ErrInvalidConfig: a sequence header (codec configuration) could not be parsed.
	// The stream cannot be decoded and should end.
	ErrInvalidConfig = errors.New("invalid codec configuration")
	// ErrNoSequenceHeader: a coded frame arrived before its track's sequence header
	// (or before the key frame a pending codec needs). The frame is dropped.
	ErrNoSequenceHeader = errors.New("frame before sequence header")
	// ErrUnsupportedCodec: the tag uses a codec or packet form this package does not
	// handle (e.g. MP3, multitrack). The tag is ignored.
	ErrUnsupportedCodec = errors.New("unsupported codec")
	// ErrInvalidTag: the tag body is malformed. The tag is dropped.
	ErrInvalidTag = errors.New("invalid tag")
)

// Enhanced RTMP video PacketType (E-RTMP v2, "ExVideoTagHeader") and audio
// AudioPacketType ("ExAudioTagHeader").
const (
	pktSequenceStart = 0
	pktCodedFrames   = 1
	pktSequenceEnd   = 2
	pktCodedFramesX  = 3 // video only
	pktMetadata      = 4 // video; for audio 4 is MultichannelConfig
	pktMPEG2TSSeq    = 5 // video; for audio 5 is Multitrack
	pktMultitrack    = 6 // video
	pktModEx         = 7
)

// Video FrameType values (FLV spec E.4.3.1; E-RTMP "VideoFrameType").
const (
	frameKey     = 1
	frameCommand = 5
)

// DefaultMaxTimestampJump is the default Demuxer.MaxTimestampJump.
const DefaultMaxTimestampJump = 10 * time.Second

// Demuxer turns FLV audio and video tag bodies into hub units. The zero value is
// ready to use; it is not safe for concurrent use.
type Demuxer struct {
	// VideoTrackID and AudioTrackID are the hub.Track IDs given to new tracks
	// (defaults 1 and 2).
	VideoTrackID, AudioTrackID int
	// MaxTimestampJump: a timestamp more than this ahead of the track's last DTS, or
	// more than a second behind it, is a discontinuity that Push repairs by shifting
	// all later timestamps (default DefaultMaxTimestampJump).
	MaxTimestampJump time.Duration

	video, audio trackState
	offset       time.Duration // added to every tag timestamp
	based        bool
	// Repairs counts timestamps repaired (clamped or shifted).
	Repairs int
}

type trackState struct {
	spec       *codecSpec
	track      *hub.Track
	pending    bool   // sequence start seen, codec completes at the first key frame
	pendingRec []byte // the record of a pending codec
	lengthSize int
	started    bool
	lastDTS    time.Duration
	lastDelta  time.Duration
}

// Video returns the current video track, or nil.
func (d *Demuxer) Video() *hub.Track { return d.video.current() }

// Audio returns the current audio track, or nil.
func (d *Demuxer) Audio() *hub.Track { return d.audio.current() }

func (st *trackState) current() *hub.Track {
	if st.pending {
		return nil
	}
	return st.track
}

// Tracks returns the current tracks, video first.
func (d *Demuxer) Tracks() []*hub.Track {
	var out []*hub.Track
	if t := d.Video(); t != nil {
		out = append(out, t)
	}
	if t := d.Audio(); t != nil {
		out = append(out, t)
	}
	return out
}

// Push parses one tag and returns the access unit it carries, or nil for sequence
// headers, metadata, script data and end-of-sequence tags. The returned unit's
// Payload may alias t.Data. See the package errors for what each failure means.
func (d *Demuxer) Push(t Tag) (*hub.Unit, error) {
	switch t.Type {
	case TagVideo:
		return d.pushVideo(t)
	case TagAudio:
		return d.pushAudio(t)
	default:
		return nil, nil
	}
}

// videoHeader is the parsed video tag header, classic or extended.
type videoHeader struct {
	spec      *codecSpec
	frameType uint8
	packet    uint8 // Enhanced RTMP PacketType (classic AVCPacketType mapped onto it)
	body      []byte
}

// parseVideoHeader reads the classic header (FLV spec E.4.3.1: FrameType:4 CodecID:4
// [AVCPacketType u8 CompositionTime SI24]) or the Enhanced RTMP one (IsExHeader:1
// FrameType:3 PacketType:4 [ModEx...] VideoFourCc u32).
func parseVideoHeader(b []byte) (videoHeader, error) {
	if len(b) < 1 {
		return videoHeader{}, fmt.Errorf("%w: empty video tag", ErrInvalidTag)
	}
	if b[0]&0x80 == 0 {
		h := videoHeader{frameType: b[0] >> 4, spec: specByClassicID(true, b[0]&0x0f)}
		if h.spec == nil {
			return h, fmt.Errorf("%w: FLV video CodecID %d", ErrUnsupportedCodec, b[0]&0x0f)
		}
		if len(b) < 2 {
			return h, fmt.Errorf("%w: short AVC video tag", ErrInvalidTag)
		}
		h.packet = b[1] // AVCPacketType 0, 1, 2 == SequenceStart, CodedFrames, SequenceEnd
		if h.packet > pktSequenceEnd {
			return h, fmt.Errorf("%w: AVCPacketType %d", ErrInvalidTag, h.packet)
		}
		h.body = b[2:] // CompositionTime stays in body, as for E-RTMP CodedFrames
		if h.packet == pktSequenceStart {
			if len(b) < 5 {
				return h, fmt.Errorf("%w: short AVC sequence header", ErrInvalidTag)
			}
			h.body = b[5:]
		}
		return h, nil
	}
	h := videoHeader{frameType: (b[0] >> 4) & 0x07, packet: b[0] & 0x0f}
	b = b[1:]
	for h.packet == pktModEx {
		var err error
		if h.packet, b, err = skipModEx(b); err != nil {
			return h, err
		}
	}
	if h.packet == pktMultitrack {
		return h, fmt.Errorf("%w: multitrack video", ErrUnsupportedCodec)
	}
	if h.frameType == frameCommand && h.packet != pktMetadata {
		return h, nil // VideoCommand byte, no media
	}
	if len(b) < 4 {
		return h, fmt.Errorf("%w: short ex video header", ErrInvalidTag)
	}
	h.spec = specByFourCC(b[:4])
	if h.spec == nil || !h.spec.video {
		return h, fmt.Errorf("%w: video FourCC %q", ErrUnsupportedCodec, b[:4])
	}
	h.body = b[4:]
	return h, nil
}

// skipModEx skips one ModEx block (E-RTMP v2 "ModEx"): modExDataSize (u8+1, or
// u16+1 when the u8 is 255), modExData, then modExType:4 PacketType:4. It returns the
// next PacketType. The only defined ModEx (TimestampOffsetNano) is sub-millisecond
// and ignored.
func skipModEx(b []byte) (uint8, []byte, error) {
	if len(b) < 1 {
		return 0, nil, fmt.Errorf("%w: short ModEx", ErrInvalidTag)
	}
	size := int(b[0]) + 1
	b = b[1:]
	if size == 256 {
		if len(b) < 2 {
			return 0, nil, fmt.Errorf("%w: short ModEx", ErrInvalidTag)
		}
		size = int(binary.BigEndian.Uint16(b)) + 1
		b = b[2:]
	}
	if len(b) < size+1 {
		return 0, nil, fmt.Errorf("%w: short ModEx", ErrInvalidTag)
	}
	return b[size] & 0x0f, b[size+1:], nil
}

func (d *Demuxer) pushVideo(t Tag) (*hub.Unit, error) {
	h, err := parseVideoHeader(t.Data)
	if err != nil || h.spec == nil {
		return nil, err
	}
	st := &d.video
	switch h.packet {
	case pktSequenceStart:
		return nil, d.sequenceStart(st, h.spec, h.body, d.videoID())
	case pktSequenceEnd, pktMetadata, pktMPEG2TSSeq:
		return nil, nil
	case pktCodedFrames, pktCodedFramesX:
	default:
		return nil, fmt.Errorf("%w: video PacketType %d", ErrInvalidTag, h.packet)
	}
	body := h.body
	var cts time.Duration
	if h.packet == pktCodedFrames && h.spec.cts {
		if len(body) < 3 {
			return nil, fmt.Errorf("%w: short composition time", ErrInvalidTag)
		}
		c := int32(uint32(body[0])<<16|uint32(body[1])<<8|uint32(body[2])) << 8 >> 8 // SI24
		cts = time.Duration(c) * time.Millisecond
		body = body[3:]
	}
	if len(body) == 0 {
		return nil, nil // empty frame (e.g. AVC end of sequence padding)
	}
	key := h.frameType == frameKey
	if err := d.ensureTrack(st, h.spec, key, body); err != nil {
		return nil, err
	}
	payload, err := normalizeNAL(st, body)
	if err != nil {
		return nil, err
	}
	dts := d.timestamp(st, t.Timestamp)
	return &hub.Unit{Track: st.track, DTS: dts, PTS: dts + cts, Key: key, Payload: payload}, nil
}

func (d *Demuxer) videoID() int {
	if d.VideoTrackID > 0 {
		return d.VideoTrackID
	}
	return 1
}

func (d *Demuxer) audioID() int {
	if d.AudioTrackID > 0 {
		return d.AudioTrackID
	}
	return 2
}

// ensureTrack checks that st has a track for spec, completing a pending codec from a
// key frame.
func (d *Demuxer) ensureTrack(st *trackState, spec *codecSpec, key bool, frame []byte) error {
	if st.spec != spec {
		return fmt.Errorf("%w: %s", ErrNoSequenceHeader, spec.fourCC)
	}
	if !st.pending {
		return nil
	}
	if !key || spec.fromKeyframe == nil {
		return fmt.Errorf("%w: %s waits for a key frame", ErrNoSequenceHeader, spec.fourCC)
	}
	c, err := spec.fromKeyframe(nil, frame)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	d.setTrack(st, spec, c, st.pendingRec, st.lengthSize, st.track.ID)
	return nil
}

// sequenceStart handles a SequenceStart (classic: AVC/AAC sequence header). An
// identical record keeps the current track; a new one creates a new *hub.Track with
// the same ID.
func (d *Demuxer) sequenceStart(st *trackState, spec *codecSpec, rec []byte, id int) error {
	if st.track != nil && st.spec == spec && !st.pending && bytes.Equal(st.track.Config, rec) {
		return nil
	}
	c, lengthSize, err := spec.config(rec)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidConfig, spec.fourCC, err)
	}
	rec = bytes.Clone(rec)
	if c == nil {
		// completed by the first key frame; keep a placeholder track for its ID.
		st.spec, st.pending, st.pendingRec, st.lengthSize = spec, true, rec, lengthSize
		st.track = &hub.Track{ID: id, FourCC: spec.fourCC, Config: rec}
		return nil
	}
	d.setTrack(st, spec, c, rec, lengthSize, id)
	return nil
}

func (d *Demuxer) setTrack(st *trackState, spec *codecSpec, c codecs.Codec, rec []byte, lengthSize, id int) {
	st.spec, st.pending, st.pendingRec, st.lengthSize = spec, false, nil, lengthSize
	st.track = &hub.Track{ID: id, Codec: c, ClockRate: spec.clockRate(c), Config: rec, FourCC: spec.fourCC}
}

// normalizeNAL checks the NAL length prefixes of an AVC/HEVC frame and converts them
// to 4 bytes when the configuration record uses 1 or 2. Other codecs pass through.
func normalizeNAL(st *trackState, body []byte) ([]byte, error) {
	if !st.spec.nal {
		return body, nil
	}
	n := st.lengthSize
	size, count := 0, 0
	for p := 0; p < len(body); {
		if p+n > len(body) {
			return nil, fmt.Errorf("%w: truncated NAL length", ErrInvalidTag)
		}
		l := 0
		for _, c := range body[p : p+n] {
			l = l<<8 | int(c)
		}
		p += n
		if l == 0 || l > len(body)-p {
			return nil, fmt.Errorf("%w: NAL length %d exceeds frame", ErrInvalidTag, l)
		}
		p += l
		size += 4 + l
		count++
	}
	if n == 4 {
		return body, nil
	}
	out := make([]byte, 0, size)
	for p := 0; p < len(body); {
		l := 0
		for _, c := range body[p : p+n] {
			l = l<<8 | int(c)
		}
		p += n
		out = binary.BigEndian.AppendUint32(out, uint32(l))
		out = append(out, body[p:p+l]...)
		p += l
	}
	return out, nil
}

// timestamp converts a tag timestamp to a monotonic DTS for st, repairing jumps.
func (d *Demuxer) timestamp(st *trackState, ts uint32) time.Duration {
	maxJump := d.MaxTimestampJump
	if maxJump <= 0 {
		maxJump = DefaultMaxTimestampJump
	}
	raw := time.Duration(ts) * time.Millisecond
	if !d.based {
		d.based = true
		if raw > maxJump { // a publish that starts late in its clock starts at 0
			d.offset = -raw
		}
	}
	dts := raw + d.offset
	if st.started {
		delta := dts - st.lastDTS
		switch {
		case delta < -time.Second || delta > maxJump:
			step := st.lastDelta
			if step <= 0 || step > time.Second {
				step = 20 * time.Millisecond
			}
			d.offset += st.lastDTS + step - dts
			dts = st.lastDTS + step
			d.Repairs++
		case delta < 0:
			dts = st.lastDTS
			d.Repairs++
		default:
			if delta > 0 {
				st.lastDelta = delta
			}
		}
	}
	st.started, st.lastDTS = true, dts
	return dts
}

// parseAudioHeader reads the classic header (FLV spec E.4.2.1: SoundFormat:4 rate:2
// size:1 type:1 [AACPacketType u8]) or the Enhanced RTMP one (SoundFormat 9:4
// AudioPacketType:4 [ModEx...] AudioFourCc u32).
func parseAudioHeader(b []byte) (spec *codecSpec, packet uint8, body []byte, err error) {
	if len(b) < 1 {
		return nil, 0, nil, fmt.Errorf("%w: empty audio tag", ErrInvalidTag)
	}
	format := b[0] >> 4
	if format != soundExHdr {
		spec = specByClassicID(false, format)
		if spec == nil {
			return nil, 0, nil, fmt.Errorf("%w: FLV SoundFormat %d", ErrUnsupportedCodec, format)
		}
		if len(b) < 2 || b[1] > 1 {
			return nil, 0, nil, fmt.Errorf("%w: bad AACPacketType", ErrInvalidTag)
		}
		return spec, b[1], b[2:], nil // AACPacketType 0/1 == SequenceStart/CodedFrames
	}
	packet = b[0] & 0x0f
	b = b[1:]
	for packet == pktModEx {
		if packet, b, err = skipModEx(b); err != nil {
			return nil, 0, nil, err
		}
	}
	if packet == pktMPEG2TSSeq { // audio 5 = Multitrack
		return nil, 0, nil, fmt.Errorf("%w: multitrack audio", ErrUnsupportedCodec)
	}
	if len(b) < 4 {
		return nil, 0, nil, fmt.Errorf("%w: short ex audio header", ErrInvalidTag)
	}
	spec = specByFourCC(b[:4])
	if spec == nil || spec.video {
		return nil, 0, nil, fmt.Errorf("%w: audio FourCC %q", ErrUnsupportedCodec, b[:4])
	}
	return spec, packet, b[4:], nil
}

func (d *Demuxer) pushAudio(t Tag) (*hub.Unit, error) {
	spec, packet, body, err := parseAudioHeader(t.Data)
	if err != nil {
		return nil, err
	}
	st := &d.audio
	switch packet {
	case pktSequenceStart:
		return nil, d.sequenceStart(st, spec, body, d.audioID())
	case pktCodedFrames:
	default:
		return nil, nil // SequenceEnd, MultichannelConfig
	}
	if st.spec != spec || st.track == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSequenceHeader, spec.fourCC)
	}
	if len(body) == 0 {
		return nil, nil
	}
	dts := d.timestamp(st, t.Timestamp)
	return &hub.Unit{Track: st.track, DTS: dts, PTS: dts, Key: true, Payload: body}, nil
}
