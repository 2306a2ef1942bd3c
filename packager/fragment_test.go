package packager

import (
	"bytes"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

var fragmentCases = []struct {
	name    string
	samples []fmp4.Sample
}{
	{"audio", []fmp4.Sample{{Duration: 1024, Payload: []byte{1, 2, 3}}, {Duration: 1056, Payload: []byte{4}}}},
	{"video sync only", []fmp4.Sample{{Duration: 3000, Payload: bytes.Repeat([]byte{9}, 100)}}},
	{"video gop", []fmp4.Sample{
		{Duration: 3000, Payload: []byte{1, 1}},
		{Duration: 3000, IsNonSyncSample: true, Payload: []byte{2}},
		{Duration: 3003, IsNonSyncSample: true, Payload: []byte{3, 3, 3}},
	}},
	{"b-frames", []fmp4.Sample{
		{Duration: 3000, PTSOffset: 6000, Payload: []byte{1}},
		{Duration: 3000, PTSOffset: -3000, IsNonSyncSample: true, Payload: []byte{2}},
	}},
}

// TestFragmentMatchesMediacommon: our allocation-free fragment writer produces
// exactly what mediacommon's fmp4.Part.Marshal produces.
func TestFragmentMatchesMediacommon(t *testing.T) {
	for _, c := range fragmentCases {
		t.Run(c.name, func(t *testing.T) {
			ptrs := make([]*fmp4.Sample, len(c.samples))
			for i := range c.samples {
				ptrs[i] = &c.samples[i]
			}
			part := fmp4.Part{SequenceNumber: 77, Tracks: []*fmp4.PartTrack{{ID: 2, BaseTime: 1 << 40, Samples: ptrs}}}
			var want seekablebuffer.Buffer
			if err := part.Marshal(&want); err != nil {
				t.Fatal(err)
			}
			got := appendFragment([]byte{0xff}, 77, 2, 1<<40, c.samples)[1:]
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("fragment differs:\n got %x\nwant %x", got, want.Bytes())
			}
			var parts fmp4.Parts
			if err := parts.Unmarshal(got); err != nil || len(parts) != 1 || len(parts[0].Tracks[0].Samples) != len(c.samples) {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
}

func BenchmarkAppendFragment(b *testing.B) {
	samples := fragmentCases[2].samples
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = appendFragment(buf[:0], uint32(i), 1, uint64(i), samples)
	}
}
