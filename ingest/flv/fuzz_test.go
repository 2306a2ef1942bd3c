package flv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// exCases are hand-made Enhanced RTMP tags (E-RTMP v2) beyond the testdata files.
var opusHead = []byte{'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0}

var exCases = []struct {
	name string
	tags []Tag
	// units expected, and the error of the last tag (nil = none)
	units int
	err   error
}{
	{"opus sequence start and frames", []Tag{
		{Type: TagAudio, Data: append([]byte{0x90, 'O', 'p', 'u', 's'}, opusHead...)},
		{Type: TagAudio, Timestamp: 20, Data: []byte{0x91, 'O', 'p', 'u', 's', 0xfc, 1, 2}},
		{Type: TagAudio, Timestamp: 40, Data: []byte{0x91, 'O', 'p', 'u', 's', 0xfc, 3, 4}},
	}, 2, nil},
	{"ModEx before the packet type", []Tag{
		{Type: TagAudio, Data: append([]byte{0x90, 'O', 'p', 'u', 's'}, opusHead...)},
		// PacketType 7 ModEx: size-1=3, 4 bytes data, modExType 0 | PacketType 1
		{Type: TagAudio, Timestamp: 20, Data: []byte{0x97, 3, 0, 0, 0, 1, 0x01, 'O', 'p', 'u', 's', 0xfc}},
	}, 1, nil},
	{"opus frame before sequence start", []Tag{
		{Type: TagAudio, Data: []byte{0x91, 'O', 'p', 'u', 's', 0xfc}},
	}, 0, ErrNoSequenceHeader},
	{"broken OpusHead", []Tag{
		{Type: TagAudio, Data: []byte{0x90, 'O', 'p', 'u', 's', 'x'}},
	}, 0, ErrInvalidConfig},
	{"unknown audio FourCC", []Tag{
		{Type: TagAudio, Data: []byte{0x91, 'a', 'c', '-', '3', 1}},
	}, 0, ErrUnsupportedCodec},
	{"video multitrack", []Tag{
		{Type: TagVideo, Data: []byte{0x96, 0, 'h', 'v', 'c', '1'}},
	}, 0, ErrUnsupportedCodec},
	{"video command frame", []Tag{
		{Type: TagVideo, Data: []byte{0xd1, 0}},
	}, 0, nil},
	{"vp9 waits for a key frame", []Tag{
		{Type: TagVideo, Data: []byte{0x90, 'v', 'p', '0', '9', 1, 0, 0, 0, 0, 10, 0x80, 2, 2, 2, 0, 0}},
		{Type: TagVideo, Timestamp: 33, Data: []byte{0xa1, 'v', 'p', '0', '9', 0x86}},
	}, 0, ErrNoSequenceHeader},
	{"classic AVC with 2-byte NAL lengths", avcLength2Tags(), 1, nil},
	{"NAL length beyond the frame", []Tag{
		avcLength2Tags()[0],
		{Type: TagVideo, Data: []byte{0x17, 1, 0, 0, 0, 0, 9, 0x65}},
	}, 0, ErrInvalidTag},
	{"AMF0 strict array claiming 2^31 entries is not allocated", []Tag{
		{Type: TagScript, Data: []byte{0x02, 0, 2, 'o', 'n', 0x0a, 0x7f, 0xff, 0xff, 0xff, 0}},
	}, 0, nil},
}

// avcLength2Tags is an AVC sequence header with lengthSizeMinusOne = 1 (taken from
// testdata) and one frame with 2-byte NAL lengths.
func avcLength2Tags() []Tag {
	tags, err := ReadFile("../../testdata/h264.flv")
	if err != nil {
		panic(err)
	}
	seq := bytes.Clone(tags[1].Data)
	seq[5+4] = 0xfd // lengthSizeMinusOne = 1
	frame := []byte{0x17, 1, 0, 0, 0}
	frame = binary.BigEndian.AppendUint16(frame, 3)
	frame = append(frame, 0x65, 0x88, 0x84)
	return []Tag{{Type: TagVideo, Data: seq}, {Type: TagVideo, Timestamp: 0, Data: frame}}
}

func TestEnhancedRTMPCases(t *testing.T) {
	for _, c := range exCases {
		t.Run(c.name, func(t *testing.T) {
			d := &Demuxer{}
			units := 0
			var err error
			for _, tag := range c.tags {
				u, e := d.Push(tag)
				err = e
				if e == nil && u != nil {
					units++
				}
			}
			if units != c.units || !errors.Is(err, c.err) {
				t.Fatalf("units %d err %v", units, err)
			}
		})
	}
	// the 2-byte lengths were converted to 4-byte ones
	d := &Demuxer{}
	tags := avcLength2Tags()
	_, _ = d.Push(tags[0])
	u, err := d.Push(tags[1])
	if err != nil || !bytes.Equal(u.Payload, []byte{0, 0, 0, 3, 0x65, 0x88, 0x84}) {
		t.Fatalf("%v %x", err, u.Payload)
	}
	if d.Audio() != nil {
		t.Fatal("audio track")
	}
}

// seedTags returns the first tags of every testdata file and the hand-made cases.
func seedTags(t testing.TB) []Tag {
	var out []Tag
	for _, f := range []string{"h264_aac.flv", "hevc_aac.flv", "av1_aac.flv"} {
		tags, err := ReadFile("../../testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range tags[:6] {
			if len(tg.Data) < 4096 {
				out = append(out, tg)
			}
		}
	}
	for _, c := range exCases {
		out = append(out, c.tags...)
	}
	return out
}

// FuzzDemuxer feeds tag sequences: each fuzz input is a list of (type, len u16, data).
func FuzzDemuxer(f *testing.F) {
	var all []byte
	for _, tg := range seedTags(f) {
		one := append([]byte{tg.Type}, binary.BigEndian.AppendUint16(nil, uint16(len(tg.Data)))...)
		one = append(one, tg.Data...)
		f.Add(one)
		all = append(all, one...)
	}
	f.Add(all)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &Demuxer{}
		var ts uint32
		for len(b) >= 3 {
			typ, n := b[0], int(binary.BigEndian.Uint16(b[1:]))
			b = b[3:]
			n = min(n, len(b))
			ts += uint32(typ)
			u, err := d.Push(Tag{Type: 8 + typ%2, Timestamp: ts, Data: b[:n]})
			b = b[n:]
			if err == nil && u != nil {
				if u.Track == nil || u.Track.Codec == nil || u.PTS-u.DTS > 1<<24*1e6 {
					t.Fatalf("bad unit %+v", u)
				}
			}
		}
	})
}

// FuzzConfig runs every configuration-record parser on the same bytes.
func FuzzConfig(f *testing.F) {
	for _, tg := range seedTags(f) {
		if len(tg.Data) > 5 {
			f.Add(tg.Data[5:])
			f.Add(tg.Data[2:])
		}
	}
	f.Add(opusHead)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = ParseAVCConfig(b)
		_, _, _ = ParseHEVCConfig(b)
		_, _ = ParseAV1Config(b)
		_, _ = ParseVP9Config(b)
		_, _ = ParseAudioSpecificConfig(b)
		_, _ = ParseOpusHead(b)
		_, _ = ParseMetadata(b)
	})
}

// FuzzReader reads FLV files.
func FuzzReader(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, true, true)
	for _, tg := range seedTags(f)[:8] {
		_ = w.Write(tg)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		for range 1000 {
			if _, err := r.Next(); err != nil {
				return
			}
		}
	})
}

func BenchmarkDemuxer(b *testing.B) {
	for _, f := range []string{"h264_aac.flv", "hevc_aac.flv", "av1_aac.flv"} {
		b.Run(f, func(b *testing.B) {
			tags, err := ReadFile("../../testdata/" + f)
			if err != nil {
				b.Fatal(err)
			}
			head := 0
			for i, tg := range tags { // skip metadata and sequence headers
				if tg.Type != TagScript && i > 2 {
					head = i
					break
				}
			}
			d := &Demuxer{}
			for _, tg := range tags[:head] {
				_, _ = d.Push(tg)
			}
			frames := tags[head:]
			var bytesN int64
			for _, tg := range frames {
				bytesN += int64(len(tg.Data))
			}
			b.SetBytes(bytesN / int64(len(frames)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				tg := frames[i%len(frames)]
				tg.Timestamp = uint32(i) // keep timestamps monotonic
				if _, err := d.Push(tg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestParseMetadataHugeStrictArray(t *testing.T) {
	body := []byte{0x02, 0, 10, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a', 0x0a, 0x7f, 0xff, 0xff, 0xff, 0x00}
	if _, ok := ParseMetadata(body); ok {
		t.Fatal("truncated strict array accepted")
	}
}
