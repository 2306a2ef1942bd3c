package packager

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/packager/timeline"
)

// diskSamples reads back every segment of the session index with mediacommon and
// returns, per track position, the decode time of each sample.
func diskSamples(t *testing.T, dir string) (*timeline.Index, [][]int64, [][]int32) {
	t.Helper()
	idx, err := timeline.ReadIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Versions) == 0 || len(idx.Segments) == 0 {
		t.Fatalf("index has %d versions, %d segments", len(idx.Versions), len(idx.Segments))
	}
	n := len(idx.Versions[0].Tracks)
	dts := make([][]int64, n)
	offs := make([][]int32, n)
	for _, s := range idx.Segments {
		for i, st := range s.Tracks {
			b, err := os.ReadFile(filepath.Join(dir, st.File))
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) != st.Size {
				t.Fatalf("%s: size %d, index says %d", st.File, len(b), st.Size)
			}
			var parts fmp4.Parts
			if err := parts.Unmarshal(b); err != nil {
				t.Fatalf("%s: %v", st.File, err)
			}
			next := int64(st.BaseTime)
			var total uint64
			for _, p := range parts {
				for _, pt := range p.Tracks {
					if int64(pt.BaseTime) != next {
						t.Fatalf("%s: tfdt %d, expected %d (samples not contiguous)", st.File, pt.BaseTime, next)
					}
					for _, smp := range pt.Samples {
						dts[i] = append(dts[i], next)
						offs[i] = append(offs[i], smp.PTSOffset)
						next += int64(smp.Duration)
						total += uint64(smp.Duration)
					}
				}
			}
			if total != st.Duration {
				t.Fatalf("%s: samples last %d, index says %d", st.File, total, st.Duration)
			}
		}
	}
	return idx, dts, offs
}

func TestSegmentsOnDiskHoldEveryUnit(t *testing.T) {
	for _, file := range []string{"h264_aac.flv", "h264.flv", "aac.flv", "hevc_aac.flv", "av1_aac.flv"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, nil)
			tracks, units := loadFLV(t, file)
			s := e.startStream(tracks, true)
			publish(s, units, 0)
			s.Close()
			e.waitEnded(timeline.TrackName(kindOf(tracks[0]), tracks[0].ID))
			idx, dts, offs := diskSamples(t, filepath.Join(e.p.Dir, testRoom, "1"))
			if idx.Ended.IsZero() {
				t.Fatal("index has no end record")
			}
			for i, tr := range tracks {
				var want []*hub.Unit
				for _, u := range packaged(units) {
					if u.Track.ID == tr.ID {
						want = append(want, u)
					}
				}
				if len(dts[i]) != len(want) {
					t.Fatalf("track %d: %d samples on disk, %d published", tr.ID, len(dts[i]), len(want))
				}
				for k, u := range want {
					wd := timeline.DurationToTicks(u.DTS, uint32(tr.ClockRate))
					wo := timeline.DurationToTicks(u.PTS-u.DTS, uint32(tr.ClockRate))
					if dts[i][k] != wd || int64(offs[i][k]) != wo {
						t.Fatalf("track %d sample %d: dts %d offset %d, published %d %d", tr.ID, k, dts[i][k], offs[i][k], wd, wo)
					}
				}
			}
		})
	}
}
