package flv

import (
	"bytes"
	"errors"
	"io"

	"github.com/yutopp/go-amf0"
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
func ParseMetadata(data []byte) (m Metadata, ok bool) {
	dec := amf0.NewDecoder(bytes.NewReader(data))
	for range 4 { // name(s) then the object
		var v any
		if err := dec.Decode(&v); err != nil {
			if !errors.Is(err, io.EOF) {
				return Metadata{}, false
			}
			return Metadata{}, false
		}
		var obj map[string]any
		switch o := v.(type) {
		case amf0.ECMAArray:
			obj = o
		case map[string]any:
			obj = o
		default:
			continue
		}
		_, hv := obj["videocodecid"]
		_, hw := obj["width"]
		_, ha := obj["audiocodecid"]
		return Metadata{HasVideo: hv || hw, HasAudio: ha}, true
	}
	return Metadata{}, false
}
