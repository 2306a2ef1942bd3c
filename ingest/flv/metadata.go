package flv

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
