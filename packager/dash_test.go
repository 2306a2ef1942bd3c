package packager

import (
	"context"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/Eyevinn/mp4ff/mp4"
)

// dashSegment is one media segment listed by an MPD.
type dashSegment struct {
	url    string
	number int
	t, d   uint64
}

// listedSegments resolves every media segment the MPD lists, per adaptation set,
// against base (the MPD's directory URL).
func listedSegments(t *testing.T, m *mpd.MPD, base string) (inits []string, segs [][]dashSegment) {
	t.Helper()
	for _, p := range m.Periods {
		for _, as := range p.AdaptationSets {
			st := as.Representations[0].SegmentTemplate
			inits = append(inits, base+st.Initialization)
			number := int(*st.StartNumber)
			var next uint64
			var list []dashSegment
			for _, s := range st.SegmentTimeline.S {
				if s.T != nil {
					next = *s.T
				}
				for r := 0; r <= s.R; r++ {
					u := base + strings.ReplaceAll(st.Media, "$Number$", strconv.Itoa(number))
					list = append(list, dashSegment{url: u, number: number, t: next, d: s.D})
					next += s.D
					number++
				}
			}
			segs = append(segs, list)
		}
	}
	return inits, segs
}

// checkSAP fetches every listed segment and checks that its first sample is a
// sync sample (startWithSAP="1"), that its tfdt is the timeline's t and that its
// samples last the timeline's d. It returns the segments' bytes.
func checkSAP(t *testing.T, e *testEnv, m *mpd.MPD, base string) map[string][]byte {
	t.Helper()
	bodies := map[string][]byte{}
	inits, segs := listedSegments(t, m, base)
	for k, list := range segs {
		ib, code := e.get(inits[k])
		if code != http.StatusOK {
			t.Fatalf("init %s: %d", inits[k], code)
		}
		init, err := mp4.DecodeFile(strings.NewReader(ib))
		if err != nil {
			t.Fatal(err)
		}
		trex := init.Init.Moov.Mvex.Trex
		for _, s := range list {
			body, code := e.get(s.url)
			if code != http.StatusOK {
				t.Fatalf("%s: %d", s.url, code)
			}
			f, err := mp4.DecodeFile(strings.NewReader(body))
			if err != nil {
				t.Fatalf("%s: %v", s.url, err)
			}
			var frags []*mp4.Fragment
			for _, ms := range f.Segments {
				frags = append(frags, ms.Fragments...)
			}
			if len(frags) == 0 {
				t.Fatalf("%s: no fragment", s.url)
			}
			var total uint64
			for i, fr := range frags {
				samples, err := fr.GetFullSamples(trex)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					// ISO/IEC 14496-12 8.8.3.1: a sync sample has sample_is_non_sync_sample 0
					if mp4.DecodeSampleFlags(samples[0].Flags).SampleIsNonSync {
						t.Fatalf("%s (t=%d): first sample is not a sync sample, but the MPD says startWithSAP=1", s.url, s.t)
					}
					if tfdt := fr.Moof.Traf.Tfdt.BaseMediaDecodeTime(); tfdt != s.t {
						t.Fatalf("%s: tfdt %d, timeline t %d", s.url, tfdt, s.t)
					}
				}
				for _, smp := range samples {
					total += uint64(smp.Dur)
				}
			}
			if total != s.d {
				t.Fatalf("%s: samples last %d, timeline d %d", s.url, total, s.d)
			}
			bodies[s.url] = []byte(body)
		}
	}
	return bodies
}

func readMPD(t *testing.T, e *testEnv, url string) *mpd.MPD {
	t.Helper()
	body, code := e.get(url)
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", url, code, body)
	}
	m, err := mpd.ReadFromString(body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDASHSegmentsStartWithSAP: every segment of the live MPD (complete ones) and
// of the VOD MPD starts with a sync sample, although the packager's first segment
// of a run is one part long and the next one continues its GOP.
func TestDASHSegmentsStartWithSAP(t *testing.T) {
	finished := make(chan error, 1)
	var archived atomic.Bool
	e := newTestEnv(t, func(p *Packager) {
		p.VODFinished = func(_ context.Context, _ string, err error) error {
			finished <- err
			return nil
		}
		p.RoomInfo = func(_ context.Context, room string) (RoomInfo, error) {
			info := RoomInfo{AppID: testAppID}
			if archived.Load() {
				info.VODURL = "http://x/vod/" + room + "/index.m3u8"
			}
			return info, nil
		}
	})
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.feed(tracks, units, true)
	m := readMPD(t, e, e.liveURL("index.mpd", testToken))
	if len(m.UTCTimings) != 1 || m.UTCTimings[0].SchemeIdUri != "urn:mpeg:dash:utc:http-iso:2014" ||
		m.UTCTimings[0].Value != e.srv.URL+"/time" {
		t.Fatalf("UTCTiming %+v", m.UTCTimings)
	}
	live := checkSAP(t, e, m, e.srv.URL+"/live/"+testRoom+"/1/")
	checkCoverage(t, m)

	e.p.Archive(testRoom)
	select {
	case err := <-finished:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("archive did not finish")
	}
	archived.Store(true)
	vm := readMPD(t, e, e.srv.URL+"/vod/"+testRoom+"/index.mpd?streamingToken="+testToken)
	vodSegs := checkSAP(t, e, vm, e.srv.URL+"/vod/"+testRoom+"/")
	checkCoverage(t, vm)
	// one session: the VOD lists the same media as the ended live MPD
	if len(vodSegs) != len(live) {
		t.Fatalf("VOD lists %d segments, live %d", len(vodSegs), len(live))
	}
}

// checkCoverage: the listed segments of each track are contiguous from the first
// sample of the publish to the last.
func checkCoverage(t *testing.T, m *mpd.MPD) {
	t.Helper()
	_, segs := listedSegments(t, m, "")
	for k, list := range segs {
		for i := 1; i < len(list); i++ {
			if list[i].t != list[i-1].t+list[i-1].d {
				t.Fatalf("adaptation set %d: gap before segment %d", k, list[i].number)
			}
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
