package flv

import (
	"encoding/binary"
	"errors"
)

// Metadata holds the hints of an onMetaData script body (FLV spec E.5) that ingest
// uses to know which tracks to wait for.
type Metadata struct {
	HasVideo, HasAudio bool
}

// ParseMetadata reads an AMF0 script body — "onMetaData" followed by an ECMA array or
// object, as in an FLV script tag or the payload of an RTMP @setDataFrame — and
// reports which tracks it announces (keys videocodecid/width and audiocodecid). ok is
// false when no metadata object is found.
//
// It walks the AMF0 bytes itself (AMF0 spec §2) instead of using go-amf0, whose
// decoder allocates a strict array's declared length up front: a 20-byte body could
// ask for gigabytes.
func ParseMetadata(data []byte) (m Metadata, ok bool) {
	p := &amfScanner{b: data}
	for range 4 { // name(s), then the object
		if len(p.b) == 0 {
			return Metadata{}, false
		}
		switch p.b[0] {
		case amfObject, amfECMAArray:
			keys := map[string]bool{}
			if err := p.value(0, keys); err != nil {
				return Metadata{}, false
			}
			return Metadata{HasVideo: keys["videocodecid"] || keys["width"], HasAudio: keys["audiocodecid"]}, true
		default:
			if err := p.value(0, nil); err != nil {
				return Metadata{}, false
			}
		}
	}
	return Metadata{}, false
}

// AMF0 markers (AMF0 spec §2.1).
const (
	amfNumber      = 0x00
	amfBoolean     = 0x01
	amfString      = 0x02
	amfObject      = 0x03
	amfNull        = 0x05
	amfUndefined   = 0x06
	amfReference   = 0x07
	amfECMAArray   = 0x08
	amfObjectEnd   = 0x09
	amfStrictArray = 0x0a
	amfDate        = 0x0b
	amfLongString  = 0x0c
	amfTypedObject = 0x10
)

var errAMF = errors.New("malformed AMF0")

type amfScanner struct{ b []byte }

func (p *amfScanner) skip(n int) error {
	if n < 0 || n > len(p.b) {
		return errAMF
	}
	p.b = p.b[n:]
	return nil
}

func (p *amfScanner) u16() (int, error) {
	if len(p.b) < 2 {
		return 0, errAMF
	}
	v := int(binary.BigEndian.Uint16(p.b))
	p.b = p.b[2:]
	return v, nil
}

func (p *amfScanner) u32() (int, error) {
	if len(p.b) < 4 {
		return 0, errAMF
	}
	v := int(binary.BigEndian.Uint32(p.b))
	p.b = p.b[4:]
	return v, nil
}

// value skips one value; keys (when non-nil) collects the property names of a
// top-level object or ECMA array.
func (p *amfScanner) value(depth int, keys map[string]bool) error {
	if depth > 16 || len(p.b) == 0 {
		return errAMF
	}
	marker := p.b[0]
	p.b = p.b[1:]
	switch marker {
	case amfNumber:
		return p.skip(8)
	case amfBoolean:
		return p.skip(1)
	case amfString:
		n, err := p.u16()
		if err != nil {
			return err
		}
		return p.skip(n)
	case amfLongString:
		n, err := p.u32()
		if err != nil {
			return err
		}
		return p.skip(n)
	case amfNull, amfUndefined:
		return nil
	case amfReference:
		return p.skip(2)
	case amfDate:
		return p.skip(10)
	case amfECMAArray:
		if err := p.skip(4); err != nil { // count is only a hint
			return err
		}
		return p.properties(depth, keys)
	case amfObject:
		return p.properties(depth, keys)
	case amfTypedObject:
		n, err := p.u16()
		if err != nil {
			return err
		}
		if err := p.skip(n); err != nil {
			return err
		}
		return p.properties(depth, nil)
	case amfStrictArray:
		n, err := p.u32()
		if err != nil {
			return err
		}
		for range n { // each value takes at least one byte: bounded by the input
			if err := p.value(depth+1, nil); err != nil {
				return err
			}
		}
		return nil
	default:
		return errAMF
	}
}

// properties reads name/value pairs up to the object-end marker (00 00 09).
func (p *amfScanner) properties(depth int, keys map[string]bool) error {
	for {
		n, err := p.u16()
		if err != nil {
			return err
		}
		if n == 0 && len(p.b) > 0 && p.b[0] == amfObjectEnd {
			p.b = p.b[1:]
			return nil
		}
		if n > len(p.b) {
			return errAMF
		}
		if keys != nil {
			keys[string(p.b[:n])] = true
		}
		p.b = p.b[n:]
		if err := p.value(depth+1, nil); err != nil {
			return err
		}
	}
}
