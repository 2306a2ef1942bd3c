package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrInvalidAMF0 is returned (wrapped) by ValidateAMF0 for a body that is not a
// sequence of well-formed AMF0 values within the limits below.
var ErrInvalidAMF0 = errors.New("invalid AMF0")

// maxAMFDepth is how deeply objects and arrays may nest (RTMP commands nest 2 or 3
// deep). It bounds the recursion of this scanner and of go-amf0's decoder.
const maxAMFDepth = 16

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
	amfUnsupported = 0x0d
	amfXMLDocument = 0x0f
	amfTypedObject = 0x10
)

// ValidateAMF0 checks body — the AMF0 part of an RTMP command (type 20) or data
// (type 18) message, or an FLV script tag — before anything decodes it:
//
//   - body is a sequence of complete AMF0 values (AMF0 spec §2); the only
//     truncation tolerated is a body ending where an object or ECMA-array property
//     name would start (a missing object-end marker);
//   - every length or count fits in the bytes that follow: a string or long string
//     of n bytes needs n bytes, a strict array of n values needs at least n bytes
//     (every value takes one), an ECMA array of n entries at least 3n bytes;
//   - containers nest at most 16 deep;
//   - markers are those of AMF0 §2.1 except the reserved movieclip (0x04) and
//     recordset (0x0e), and the switch to AMF3 (0x11).
//
// go-amf0 v0.1.0 allocates a strict array by its declared count before reading any
// element (up to 2^31-1 entries, 32 GiB, from 5 bytes); after ValidateAMF0 its
// allocations are bounded by a small multiple of len(body). ValidateAMF0 itself does
// not allocate unless it fails.
func ValidateAMF0(body []byte) error {
	p := amfScanner{b: body}
	for len(p.b) > 0 {
		if err := p.value(0, nil); err != nil {
			return fmt.Errorf("%w (at byte %d of %d)", err, len(body)-len(p.b), len(body))
		}
	}
	return nil
}

// amfScanner walks AMF0 values without decoding them; every read is bounds-checked.
type amfScanner struct{ b []byte }

func (p *amfScanner) short(what string, n int) error {
	return fmt.Errorf("%w: %s of %d bytes, %d left", ErrInvalidAMF0, what, n, len(p.b))
}

func (p *amfScanner) skip(what string, n int) error {
	if n < 0 || n > len(p.b) {
		return p.short(what, n)
	}
	p.b = p.b[n:]
	return nil
}

func (p *amfScanner) u16(what string) (int, error) {
	if len(p.b) < 2 {
		return 0, p.short(what, 2)
	}
	v := int(binary.BigEndian.Uint16(p.b))
	p.b = p.b[2:]
	return v, nil
}

func (p *amfScanner) u32(what string) (int, error) {
	if len(p.b) < 4 {
		return 0, p.short(what, 4)
	}
	v := int(binary.BigEndian.Uint32(p.b))
	p.b = p.b[4:]
	return v, nil
}

// value skips one value; keys (when non-nil) collects the property names of a
// top-level object or ECMA array.
func (p *amfScanner) value(depth int, keys map[string]bool) error {
	if depth > maxAMFDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrInvalidAMF0, maxAMFDepth)
	}
	if len(p.b) == 0 {
		return p.short("value", 1)
	}
	marker := p.b[0]
	p.b = p.b[1:]
	switch marker {
	case amfNumber:
		return p.skip("number", 8)
	case amfBoolean:
		return p.skip("boolean", 1)
	case amfString:
		n, err := p.u16("string length")
		if err != nil {
			return err
		}
		return p.skip("string", n)
	case amfLongString, amfXMLDocument:
		n, err := p.u32("long string length")
		if err != nil {
			return err
		}
		return p.skip("long string", n)
	case amfNull, amfUndefined, amfUnsupported:
		return nil
	case amfReference:
		return p.skip("reference", 2)
	case amfDate:
		return p.skip("date", 10)
	case amfObject:
		return p.properties(depth, keys)
	case amfECMAArray:
		n, err := p.u32("ECMA array count")
		if err != nil {
			return err
		}
		if n > len(p.b)/3 { // the count is only a hint, but one that cannot fit is an attack
			return fmt.Errorf("%w: ECMA array of %d entries in %d bytes", ErrInvalidAMF0, n, len(p.b))
		}
		return p.properties(depth, keys)
	case amfTypedObject:
		n, err := p.u16("class name length")
		if err != nil {
			return err
		}
		if err := p.skip("class name", n); err != nil {
			return err
		}
		return p.properties(depth, nil)
	case amfStrictArray:
		return p.strictArray(depth)
	default:
		return fmt.Errorf("%w: marker 0x%02x", ErrInvalidAMF0, marker)
	}
}

// strictArray checks the count against the bytes left before walking the values.
func (p *amfScanner) strictArray(depth int) error {
	n, err := p.u32("strict array count")
	if err != nil {
		return err
	}
	if n > len(p.b) {
		return fmt.Errorf("%w: strict array of %d values in %d bytes", ErrInvalidAMF0, n, len(p.b))
	}
	for range n {
		if err := p.value(depth+1, nil); err != nil {
			return err
		}
	}
	return nil
}

// properties reads name/value pairs up to the object-end marker (00 00 09), or to
// the end of the body when it ends where a name would start.
func (p *amfScanner) properties(depth int, keys map[string]bool) error {
	for len(p.b) > 0 {
		n, err := p.u16("property name length")
		if err != nil {
			return err
		}
		if n == 0 && len(p.b) > 0 && p.b[0] == amfObjectEnd {
			p.b = p.b[1:]
			return nil
		}
		if n > len(p.b) {
			return p.short("property name", n)
		}
		if keys != nil {
			keys[string(p.b[:n])] = true
		}
		p.b = p.b[n:]
		if err := p.value(depth+1, nil); err != nil {
			return err
		}
	}
	return nil
}
