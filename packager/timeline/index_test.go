package timeline

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestIndexRoundTripAndTruncation(t *testing.T) {
	dir := t.TempDir()
	w, err := CreateIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := &Version{Number: 0, Tracks: []Track{{Name: "video1", ID: 1, Kind: KindVideo, Codecs: "avc1.64001e", TimeScale: 90000, Init: "video1_init0.mp4"}}}
	pdt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if err := w.WriteVersion(v); err != nil {
			t.Fatal(err)
		}
		s := &Segment{MSN: uint64(i), PDT: pdt.Add(time.Duration(i) * 2 * time.Second), Duration: 2 * time.Second,
			Tracks: []SegmentTrack{{File: SegmentFile("video1", uint64(i)), BaseTime: uint64(i) * 180000, Duration: 180000, Size: 10}}}
		if err := w.WriteSegment(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	idx, err := ReadIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Versions) != 1 || len(idx.Segments) != 3 || idx.Truncated || !idx.Ended.IsZero() {
		t.Fatalf("index %+v", idx)
	}
	if idx.Segments[2].Dir != dir || !idx.Segments[2].PDT.Equal(pdt.Add(4*time.Second)) {
		t.Fatalf("segment %+v", idx.Segments[2])
	}
	// a crash in the middle of an append leaves a partial line: it is skipped
	f, err := os.OpenFile(filepath.Join(dir, IndexFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"segment","s":{"msn":3,`)
	f.Close()
	idx, err = ReadIndex(dir)
	if err != nil || len(idx.Segments) != 3 || !idx.Truncated {
		t.Fatalf("truncated index: %v %+v", err, idx)
	}
}

func TestTicks(t *testing.T) {
	for _, c := range []struct {
		d  time.Duration
		ts uint32
		v  int64
	}{{time.Second, 90000, 90000}, {21 * time.Millisecond, 48000, 1008}, {10 * time.Hour, 90000, 3240000000}} {
		if got := DurationToTicks(c.d, c.ts); got != c.v {
			t.Errorf("DurationToTicks(%v, %d) = %d, want %d", c.d, c.ts, got, c.v)
		}
		if got := TicksToDuration(uint64(c.v), c.ts); got != c.d {
			t.Errorf("TicksToDuration(%d, %d) = %v, want %v", c.v, c.ts, got, c.d)
		}
	}
}
