package flv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Tag types of the FLV file format (FLV spec v10.1, E.4.1 "FLV Tags", field TagType).
const (
	TagAudio  uint8 = 8
	TagVideo  uint8 = 9
	TagScript uint8 = 18
)

// MaxTagSize is the largest tag body the Reader accepts (the 24-bit DataSize field
// allows 16 MiB - 1; anything near that in a test file is garbage).
const MaxTagSize = 1<<24 - 1

// ErrNotFLV is returned by NewReader when the input does not start with an FLV header.
var ErrNotFLV = errors.New("not an FLV file")

// Tag is one FLV tag: an audio (8), video (9) or script data (18) body with its
// timestamp in milliseconds. It is also the shape of an RTMP audio/video/data message.
type Tag struct {
	Type      uint8
	Timestamp uint32
	Data      []byte
}

// Reader reads the tags of an FLV file (FLV spec v10.1, annex E.2 "The FLV header"
// and E.3 "The FLV File Body").
//
//	header:  'F' 'L' 'V' | version u8 | flags u8 (audio 0x04, video 0x01) | header size u32
//	body:    PreviousTagSize0 u32 | tag | PreviousTagSize u32 | tag | ...
//	tag:     type u8 | data size u24 | timestamp u24 | timestamp ext u8 | stream ID u24 | data
type Reader struct {
	// HasAudio and HasVideo are the header's TypeFlags (hints only).
	HasAudio, HasVideo bool

	r   *bufio.Reader
	hdr [15]byte
}

// NewReader reads the FLV header from r and returns a Reader positioned at the first tag.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var h [9]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, fmt.Errorf("read flv header: %w", err)
	}
	if h[0] != 'F' || h[1] != 'L' || h[2] != 'V' {
		return nil, ErrNotFLV
	}
	size := binary.BigEndian.Uint32(h[5:9])
	if size < 9 || size > 1024 {
		return nil, fmt.Errorf("flv header size %d: %w", size, ErrNotFLV)
	}
	if _, err := br.Discard(int(size - 9)); err != nil {
		return nil, fmt.Errorf("read flv header: %w", err)
	}
	var prev [4]byte // PreviousTagSize0, always 0
	if _, err := io.ReadFull(br, prev[:]); err != nil {
		return nil, fmt.Errorf("read flv header: %w", err)
	}
	return &Reader{HasAudio: h[4]&0x04 != 0, HasVideo: h[4]&0x01 != 0, r: br}, nil
}

// Next returns the next tag. It returns io.EOF at a clean end of file and
// io.ErrUnexpectedEOF for a truncated tag. Data is freshly allocated for each tag.
func (r *Reader) Next() (Tag, error) {
	n, err := io.ReadFull(r.r, r.hdr[:11])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return Tag{}, io.EOF
		}
		return Tag{}, fmt.Errorf("read flv tag header: %w", io.ErrUnexpectedEOF)
	}
	h := r.hdr[:11]
	typ := h[0] & 0x1f // bits 5-7: reserved / filter (E.4.1)
	if h[0]&0x20 != 0 {
		return Tag{}, errors.New("encrypted flv tags are not supported")
	}
	size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	ts := uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
	data := make([]byte, size)
	if _, err := io.ReadFull(r.r, data); err != nil {
		return Tag{}, fmt.Errorf("read flv tag body (%d bytes): %w", size, io.ErrUnexpectedEOF)
	}
	if _, err := io.ReadFull(r.r, r.hdr[11:15]); err != nil && !errors.Is(err, io.EOF) {
		return Tag{}, fmt.Errorf("read flv previous tag size: %w", io.ErrUnexpectedEOF)
	}
	return Tag{Type: typ, Timestamp: ts, Data: data}, nil
}

// ReadFile reads every tag of the FLV file at path.
func ReadFile(path string) ([]Tag, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open flv: %w", err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var tags []Tag
	for {
		t, err := r.Next()
		if errors.Is(err, io.EOF) {
			return tags, nil
		}
		if err != nil {
			return tags, fmt.Errorf("%s: tag %d: %w", path, len(tags), err)
		}
		tags = append(tags, t)
	}
}

// Writer writes an FLV file (the inverse of Reader); used by the testdata generator
// and tests.
type Writer struct {
	w    io.Writer
	prev uint32
}

// NewWriter writes an FLV header with the given TypeFlags and returns a Writer.
func NewWriter(w io.Writer, hasAudio, hasVideo bool) (*Writer, error) {
	var flags byte
	if hasAudio {
		flags |= 0x04
	}
	if hasVideo {
		flags |= 0x01
	}
	h := []byte{'F', 'L', 'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0}
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("write flv header: %w", err)
	}
	return &Writer{w: w}, nil
}

// Write appends one tag followed by its PreviousTagSize.
func (w *Writer) Write(t Tag) error {
	if len(t.Data) > MaxTagSize {
		return fmt.Errorf("flv tag of %d bytes is too large", len(t.Data))
	}
	n := len(t.Data)
	b := make([]byte, 11, 11+n+4)
	b[0] = t.Type
	b[1], b[2], b[3] = byte(n>>16), byte(n>>8), byte(n)
	b[4], b[5], b[6], b[7] = byte(t.Timestamp>>16), byte(t.Timestamp>>8), byte(t.Timestamp), byte(t.Timestamp>>24)
	b = append(b, t.Data...)
	b = binary.BigEndian.AppendUint32(b, uint32(11+n))
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("write flv tag: %w", err)
	}
	return nil
}
