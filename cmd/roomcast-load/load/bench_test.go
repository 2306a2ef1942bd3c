package load

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/roomcast/roomcast/cmd/roomcast-load/load/loadtest"
)

func BenchmarkHistogramObserve(b *testing.B) {
	var h Histogram
	h.Observe(time.Millisecond)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Observe(time.Duration(i%5000) * time.Microsecond)
	}
}

// liveWindow renders an LL-HLS playlist of 6 two-second segments of 10 parts each.
func liveWindow() []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n" +
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6\n#EXT-X-PART-INF:PART-TARGET=0.2\n" +
		"#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-MAP:URI=\"init.mp4?streamingToken=t\"\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:05.000Z\n")
	for s := 100; s < 106; s++ {
		for p := range 10 {
			fmt.Fprintf(&b, "#EXT-X-PART:DURATION=0.2,URI=\"p%d.%d.m4s?streamingToken=t\"%s\n", s, p,
				map[bool]string{true: ",INDEPENDENT=YES"}[p == 0])
		}
		fmt.Fprintf(&b, "#EXTINF:2.0,\ns%d.m4s?streamingToken=t\n", s)
	}
	b.WriteString("#EXT-X-PART:DURATION=0.2,URI=\"p106.0.m4s?streamingToken=t\",INDEPENDENT=YES\n" +
		"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p106.1.m4s?streamingToken=t\"\n")
	return []byte(b.String())
}

// BenchmarkPlaylistTimeline is a viewer's work per playlist response: parse with
// gohlslib and flatten into parts and segments with their ends.
func BenchmarkPlaylistTimeline(b *testing.B) {
	body := liveWindow()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var m playlist.Media
		if err := m.Unmarshal(body); err != nil {
			b.Fatal(err)
		}
		timeline(&m)
	}
}

// BenchmarkPublishWrite is the publisher's per-tag path: one FLV tag through go-rtmp
// to a real server over loopback, without pacing.
func BenchmarkPublishWrite(b *testing.B) {
	srv := loadtest.StartRTMP(b)
	m, err := LoadMedia("../../../testdata/h264_aac.flv")
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	p := &publisher{url: "rtmp://" + srv.Addr + "/live/bench", media: m, cfg: &cfg}
	conn, stream, err := p.open(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer p.closeConn(conn, stream, "bench")
	b.ReportAllocs()
	var n int64
	for i := 0; b.Loop(); i++ {
		t := m.Body[i%len(m.Body)]
		if err := p.write(stream, t, uint32(i)); err != nil {
			b.Fatal(err)
		}
		n += int64(len(t.Data))
	}
	b.SetBytes(n / int64(max(b.N, 1)))
}
