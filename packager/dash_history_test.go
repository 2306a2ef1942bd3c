package packager

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"

	"github.com/roomcast/roomcast/packager/timeline"
)

// gstreamerAgent is the User-Agent of GStreamer 1.22's souphttpsrc.
const gstreamerAgent = "GStreamer souphttpsrc 1.22.0 libsoup/3.2.3"

// readMPDAs reads an MPD with the User-Agent agent.
func readMPDAs(t *testing.T, url, agent string) *mpd.MPD {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", agent)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s %v", url, res.StatusCode, body, err)
	}
	m, err := mpd.ReadFromString(string(body))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writtenDASHSegments lists, per track, the DASH segments of the segments the
// session index records: a segment that continues the GOP of the one before it
// is joined to it (dash.Joins).
func writtenDASHSegments(t *testing.T, e *testEnv) [][]dashSegment {
	t.Helper()
	idx, err := timeline.ReadIndex(e.p.sessionDir(&Session{RoomUUID: testRoom, SessionNo: testSessionNo}))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]dashSegment
	for k := range idx.Versions[0].Tracks {
		var list []dashSegment
		var prev *timeline.Segment
		for _, s := range idx.Segments {
			tr := s.Tracks[k]
			switch {
			case s.NotIndependent && prev != nil && prev.MSN+1 == s.MSN && len(list) > 0:
				list[len(list)-1].number = int(s.MSN)
				list[len(list)-1].d += tr.Duration
			case s.NotIndependent:
			default:
				list = append(list, dashSegment{number: int(s.MSN), t: tr.BaseTime, d: tr.Duration})
			}
			prev = s
		}
		out = append(out, list)
	}
	return out
}

// TestDASHGStreamerListsPeriodFromStart: GStreamer's dashdemux2 adds the start
// of the first listed segment of a Period to its seek target, so its MPD lists
// the live Period from its first segment (period time 0) although the live
// window slid past it; the @r-compacted timeline expands to exactly the segments
// the packager wrote, then the one in progress. Other players get the window.
func TestDASHGStreamerListsPeriodFromStart(t *testing.T) {
	tracks, units := loadFLV(t, "h264_aac.flv")
	e := newTestEnv(t, func(p *Packager) { p.LiveWindow = 2 })
	e.feed(tracks, units, false)
	url := e.liveURL("index.mpd", testToken)
	gst := readMPDAs(t, url, gstreamerAgent)
	win := readMPDAs(t, url, "dash.js")
	written := writtenDASHSegments(t, e)
	_, gstSegs := listedSegments(t, gst, "")
	_, winSegs := listedSegments(t, win, "")
	if len(gst.Periods) != 1 || len(gstSegs) != len(written) {
		t.Fatalf("%d periods, %d adaptation sets; want 1 and %d", len(gst.Periods), len(gstSegs), len(written))
	}
	for k, want := range written {
		as := gst.Periods[0].AdaptationSets[k]
		st := as.Representations[0].SegmentTemplate
		got := gstSegs[k]
		if len(got) != len(want)+1 {
			t.Fatalf("%s: %d segments listed, want the %d written and the one in progress", as.ContentType, len(got), len(want))
		}
		for i, w := range want {
			if g := got[i]; g.number != w.number || g.t != w.t || g.d != w.d {
				t.Fatalf("%s segment %d: listed number %d t %d d %d, written %d %d %d", as.ContentType, i, g.number, g.t, g.d, w.number, w.t, w.d)
			}
		}
		if last := want[len(want)-1]; got[len(want)].t != last.t+last.d || got[len(want)].number <= last.number {
			t.Fatalf("%s: segment in progress %+v does not follow %+v", as.ContentType, got[len(want)], last)
		}
		var pto uint64
		if st.PresentationTimeOffset != nil {
			pto = *st.PresentationTimeOffset
		}
		// the first listed segment starts the Period (its first sample, within a frame)
		if start := timeline.TicksToDuration(got[0].t-pto, *st.Timescale); start > 40*time.Millisecond {
			t.Fatalf("%s: first listed segment at period time %v", as.ContentType, start)
		}
		if as.ContentType == "video" && len(st.SegmentTimeline.S) > 2 {
			t.Fatalf("video timeline of %d segments in %d S elements: not compacted with @r", len(got), len(st.SegmentTimeline.S))
		}
		// the window slid: other players are not listed the period's start
		if winSegs[k][0].number == got[0].number || len(winSegs[k]) > 3 {
			t.Fatalf("%s: the window MPD lists %d segments from %d", as.ContentType, len(winSegs[k]), winSegs[k][0].number)
		}
	}
}

// listedEnd is what the first MPD version that listed a segment said about it.
type listedEnd struct {
	t, end uint64
}

// TestDASHListedSegmentsNeverGrow reads every live MPD version while publishing
// in real time: a segment keeps its number and start from one version to the
// next, never ends later than when it was first listed (in progress, with an
// estimated duration; the stream's last segment excepted, see below), and every
// version lists the segment in progress. Shaka Player ignores a timeline entry
// unless it ends after the last one it has, then fetches it again; dash.js asks
// for the next segment at the listed end plus 10 ms: a segment that grows is
// downloaded twice.
func TestDASHListedSegmentsNeverGrow(t *testing.T) {
	t.Parallel() // real time
	e := newTestEnv(t, nil)
	wait := publishLive(t, e)
	url := e.liveURL("index.mpd", testToken)
	first := map[[2]uint64]listedEnd{} // (adaptation set, number) → first listing
	numbers := map[[2]uint64]int{}     // (adaptation set, t) → number
	seen := map[string]bool{}
	grew := map[[2]uint64]string{} // segments listed longer than first estimated
	lastNumber := map[int]int{}    // adaptation set → highest number listed
	versions, inProgress, lastWithout := 0, 0, 0
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		body, code := e.get(url)
		if code != http.StatusOK {
			time.Sleep(20 * time.Millisecond) // poll until the first segment exists
			continue
		}
		m, err := mpd.ReadFromString(body)
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaPresentationDuration != nil {
			break // ended
		}
		if seen[string(m.PublishTime)] {
			time.Sleep(20 * time.Millisecond) // poll for the next MPD version
			continue
		}
		seen[string(m.PublishTime)] = true
		versions++
		_, segs := listedSegments(t, m, "")
		for k, list := range segs {
			for _, s := range list {
				key := [2]uint64{uint64(k), uint64(s.number)}
				f, ok := first[key]
				if !ok {
					first[key] = listedEnd{t: s.t, end: s.t + s.d}
				} else if s.t != f.t {
					t.Fatalf("adaptation set %d segment %d: first listed from %d, now from %d (publishTime %s)",
						k, s.number, f.t, s.t, m.PublishTime)
				} else if s.t+s.d > f.end {
					grew[key] = fmt.Sprintf("adaptation set %d segment %d: first listed [%d, %d), now [%d, %d) (publishTime %s)",
						k, s.number, f.t, f.end, s.t, s.t+s.d, m.PublishTime)
					first[key] = listedEnd{t: s.t, end: s.t + s.d}
				}
				lastNumber[k] = max(lastNumber[k], s.number)
				tk := [2]uint64{uint64(k), s.t}
				if n, ok := numbers[tk]; ok && n != s.number {
					t.Fatalf("adaptation set %d: t=%d listed as segment %d, then %d", k, s.t, n, s.number)
				}
				numbers[tk] = s.number
			}
		}
		if st := m.Periods[len(m.Periods)-1].AdaptationSets[0].Representations[0].SegmentTemplate; st.AvailabilityTimeComplete != nil {
			inProgress++
		} else {
			lastWithout = versions
		}
	}
	wait()
	// Only the stream's last segment may outgrow its estimate: the file's audio
	// outlasts its last video frame, so the last GOP is longer than the ones
	// before it (one more download of that segment at the end of a broadcast).
	for key, msg := range grew {
		if int(key[1]) != lastNumber[int(key[0])] {
			t.Fatal(msg)
		}
	}
	// the segment after the last complete one is listed in every version (a
	// player whose buffer ends there must find it) — but the last one read before
	// the ended MPD: once the publisher has stopped, nothing is in progress.
	without := versions - inProgress
	if versions < 10 || without > 1 || (without == 1 && lastWithout != versions) {
		t.Fatalf("%d MPD versions read, %d with a segment in progress (the last without: version %d)", versions, inProgress, lastWithout)
	}
	t.Logf("%d MPD versions, %d with a segment in progress, %d segments", versions, inProgress, len(first))
}
