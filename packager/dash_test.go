package packager

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/Eyevinn/dash-mpd/mpd"

	"github.com/roomcast/roomcast/packager/timeline"
)

func TestDASHSegmentsResolveAndAddUp(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.feed(tracks, units, true)
	body, code := e.get(e.liveURL("index.mpd", testToken))
	if code != http.StatusOK {
		t.Fatalf("mpd: %d", code)
	}
	m, err := mpd.ReadFromString(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.UTCTimings) != 1 || m.UTCTimings[0].SchemeIdUri != "urn:mpeg:dash:utc:http-iso:2014" ||
		m.UTCTimings[0].Value != e.srv.URL+"/time" {
		t.Fatalf("UTCTiming %+v", m.UTCTimings)
	}
	idx, err := timeline.ReadIndex(filepath.Join(e.p.Dir, testRoom, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Periods) != 1 || len(m.Periods[0].AdaptationSets) != 2 {
		t.Fatalf("periods/adaptation sets: %d", len(m.Periods))
	}
	for i, as := range m.Periods[0].AdaptationSets {
		rep := as.Representations[0]
		st := rep.SegmentTemplate
		if !strings.Contains(st.Media, "streamingToken="+testToken) || !strings.Contains(st.Initialization, "streamingToken="+testToken) {
			t.Fatalf("templates without token: %q %q", st.Media, st.Initialization)
		}
		if _, code := e.get(e.srv.URL + "/live/" + testRoom + "/1/" + st.Initialization); code != http.StatusOK {
			t.Fatalf("init: %d", code)
		}
		number := int(*st.StartNumber)
		var total, next uint64
		for k, s := range st.SegmentTimeline.S {
			if s.T != nil {
				if k > 0 && *s.T != next {
					t.Fatalf("gap in the timeline at S %d", k)
				}
				next = *s.T
			}
			for r := 0; r <= s.R; r++ {
				u := strings.ReplaceAll(st.Media, "$Number$", strconv.Itoa(number))
				if _, code := e.get(e.srv.URL + "/live/" + testRoom + "/1/" + u); code != http.StatusOK {
					t.Fatalf("%s: %d", u, code)
				}
				seg := idx.Segments[number-int(*st.StartNumber)]
				if seg.Tracks[i].BaseTime != next || seg.Tracks[i].Duration != s.D {
					t.Fatalf("segment %d: timeline t=%d d=%d, file tfdt=%d duration=%d", number,
						next, s.D, seg.Tracks[i].BaseTime, seg.Tracks[i].Duration)
				}
				total += s.D
				next += s.D
				number++
			}
		}
		var want uint64
		for _, s := range idx.Segments {
			want += s.Tracks[i].Duration
		}
		if total != want || number != len(idx.Segments) {
			t.Fatalf("adaptation set %d: timeline %d ticks in %d segments, files %d ticks in %d", i, total, number, want, len(idx.Segments))
		}
	}
}

func TestFFprobeReadsHLSAndDASH(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.feed(tracks, units, true)
	for _, f := range []string{"index.m3u8", "index.mpd"} {
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
			"-of", "compact", e.liveURL(f, testToken)).CombinedOutput()
		if err != nil {
			t.Fatalf("ffprobe %s: %v\n%s", f, err, out)
		}
		s := string(out)
		if !strings.Contains(s, "codec_name=h264") || !strings.Contains(s, "width=640") || !strings.Contains(s, "codec_name=aac") {
			t.Fatalf("ffprobe %s:\n%s", f, s)
		}
	}
}
