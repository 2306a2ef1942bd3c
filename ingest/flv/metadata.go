package flv

// Metadata holds the hints of an onMetaData script body (FLV spec E.5) that ingest
// uses to know which tracks to wait for, and the encoder's name for itself.
type Metadata struct {
	HasVideo, HasAudio bool
	// Encoder is the "encoder" string property (e.g. "Lavf59.27.100", "obs-output
	// module (libobs version 29.1.3)"), at most maxEncoderLen bytes.
	Encoder string
}

// maxEncoderLen bounds Metadata.Encoder.
const maxEncoderLen = 256

// ParseMetadata reads an AMF0 script body — "onMetaData" followed by an ECMA array or
// object, as in an FLV script tag or the payload of an RTMP @setDataFrame — and
// reports which tracks it announces (keys videocodecid/width and audiocodecid). ok is
// false when no metadata object is found.
//
// It walks the AMF0 bytes itself with the bounds-checked scanner of ValidateAMF0
// instead of using go-amf0, whose decoder allocates a strict array's declared length
// up front: a 20-byte body could ask for gigabytes.
func ParseMetadata(data []byte) (m Metadata, ok bool) {
	p := &amfScanner{b: data}
	for range 4 { // name(s), then the object
		if len(p.b) == 0 {
			return Metadata{}, false
		}
		switch p.b[0] {
		case amfObject, amfECMAArray:
			keys := map[string]bool{}
			body := p.b
			if err := p.value(0, keys); err != nil {
				return Metadata{}, false
			}
			return Metadata{HasVideo: keys["videocodecid"] || keys["width"], HasAudio: keys["audiocodecid"],
				Encoder: stringProperty(body, "encoder")}, true
		default:
			if err := p.value(0, nil); err != nil {
				return Metadata{}, false
			}
		}
	}
	return Metadata{}, false
}

// stringProperty returns the value of the string property name of the object or
// ECMA array that b starts with (already validated by the scanner), or "".
func stringProperty(b []byte, name string) string {
	p := &amfScanner{b: b[1:]}
	if b[0] == amfECMAArray {
		p.b = p.b[4:]
	}
	for len(p.b) >= 3 {
		n, _ := p.u16("property name length")
		if n == 0 || n > len(p.b) {
			return ""
		}
		key := string(p.b[:n])
		p.b = p.b[n:]
		if key == name && len(p.b) >= 3 && p.b[0] == amfString {
			l := int(p.b[1])<<8 | int(p.b[2])
			if v := p.b[3:]; l <= len(v) {
				return string(v[:min(l, maxEncoderLen)])
			}
			return ""
		}
		if p.value(1, nil) != nil {
			return ""
		}
	}
	return ""
}
