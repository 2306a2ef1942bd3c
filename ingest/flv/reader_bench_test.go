package flv

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkReader parses FLV tags from a file image (header, tag headers, bodies):
// the reader tools and tests use, and the load tool replays. One op is one tag.
func BenchmarkReader(b *testing.B) {
	for _, f := range []string{"h264_aac.flv", "hevc_aac.flv", "av1_aac.flv"} {
		b.Run(f, func(b *testing.B) {
			img, err := os.ReadFile("../../testdata/" + f)
			if err != nil {
				b.Fatal(err)
			}
			tags, err := ReadFile("../../testdata/" + f)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(img) / len(tags)))
			b.ReportAllocs()
			b.ResetTimer()
			var r *Reader
			for i := range b.N {
				if i%len(tags) == 0 {
					if r, err = NewReader(bytes.NewReader(img)); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
