package packager

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
)

// publishLive publishes the test file in real time and closes the stream; the
// returned func waits for the publisher.
func publishLive(t *testing.T, e *testEnv) func() {
	t.Helper()
	tracks, units := loadFLV(t, "h264_aac.flv")
	s := e.startStream(tracks, true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		publish(s, units, 1)
		s.Close()
	}()
	wait := func() { <-done }
	t.Cleanup(wait)
	return wait
}

// lastListed returns the URL and number of the last segment the MPD lists for
// adaptation set k, and whether it is announced as in progress.
func lastListed(t *testing.T, m *mpd.MPD, base string, k int) (string, int, bool) {
	t.Helper()
	_, segs := listedSegments(t, m, base)
	list := segs[len(segs)-len(m.Periods[len(m.Periods)-1].AdaptationSets)+k]
	st := m.Periods[len(m.Periods)-1].AdaptationSets[k].Representations[0].SegmentTemplate
	inProgress := st.AvailabilityTimeComplete != nil && !*st.AvailabilityTimeComplete
	s := list[len(list)-1]
	return s.url, s.number, inProgress
}

// TestDASHChunkedSegmentInProgress fetches the segment in progress over HTTP while
// the stream is published: its parts arrive as they are written (chunked), and
// the whole answer is byte-identical to the complete segment fetched afterwards.
func TestDASHChunkedSegmentInProgress(t *testing.T) {
	t.Parallel() // real time
	e := newTestEnv(t, nil)
	publishLive(t, e)
	base := e.srv.URL + "/live/" + testRoom + "/1/"
	deadline := time.Now().Add(15 * time.Second)
	var url string
	var number int
	for {
		if time.Now().After(deadline) {
			t.Fatal("no MPD with a segment in progress")
		}
		body, code := e.get(e.liveURL("index.mpd", testToken))
		if code == http.StatusOK {
			m, err := mpd.ReadFromString(body)
			if err != nil {
				t.Fatal(err)
			}
			var inProgress bool
			url, number, inProgress = lastListed(t, m, base, 0)
			if inProgress && !e.complete(uint64(number)) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // poll the MPD
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ContentLength != -1 || len(res.TransferEncoding) == 0 || res.TransferEncoding[0] != "chunked" {
		t.Fatalf("in-progress segment: %d, length %d, transfer encoding %v", res.StatusCode, res.ContentLength, res.TransferEncoding)
	}
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	early := 0 // reads that returned while the segment was still being written
	for {
		n, err := res.Body.Read(buf)
		got.Write(buf[:n])
		if n > 0 && !e.complete(uint64(number)) {
			early++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if early < 2 {
		t.Fatalf("only %d reads before the segment was complete: not sent progressively", early)
	}
	whole, code := e.get(url)
	if code != http.StatusOK || !bytes.Equal(got.Bytes(), []byte(whole)) {
		t.Fatalf("chunked answer (%d bytes) differs from the complete segment (%d bytes, %d)", got.Len(), len(whole), code)
	}
	t.Logf("segment %d: %d bytes in %d reads while written", number, got.Len(), early)
}

// complete reports whether segment msn of the test session is complete.
func (e *testEnv) complete(msn uint64) bool {
	st := e.p.lookup(testRoom, testSessionNo)
	if st == nil {
		return false
	}
	v, _ := st.snapshot()
	return findSegment(v.tl, msn) != nil
}

// TestDASHLiveTiming reads the live MPD repeatedly while publishing: every listed
// segment is available (AST + Period@start + (t - PTO)/timescale + d -
// availabilityTimeOffset, ISO/IEC 23009-1 5.3.9.5.3) no later than the server's
// /time, and the live edge (now - AST on the MPD timeline) lies within the last
// two listed segments.
func TestDASHLiveTiming(t *testing.T) {
	t.Parallel() // real time
	e := newTestEnv(t, nil)
	wait := publishLive(t, e)
	checked := 0
	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for checked < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d MPD versions checked", checked)
		}
		body, code := e.get(e.liveURL("index.mpd", testToken))
		nowS, _ := e.get(e.srv.URL + "/time")
		if code != http.StatusOK {
			time.Sleep(20 * time.Millisecond) // poll until the first segment exists
			continue
		}
		m, err := mpd.ReadFromString(body)
		if err != nil {
			t.Fatal(err)
		}
		if *m.Type != mpd.DYNAMIC_TYPE || m.MediaPresentationDuration != nil || seen[string(m.PublishTime)] {
			if m.MediaPresentationDuration != nil {
				break // ended
			}
			time.Sleep(20 * time.Millisecond) // poll for the next MPD version
			continue
		}
		seen[string(m.PublishTime)] = true
		now, err := time.Parse(time.RFC3339Nano, nowS)
		if err != nil {
			t.Fatal(err)
		}
		checkTiming(t, m, now)
		checked++
	}
	wait()
}

func checkTiming(t *testing.T, m *mpd.MPD, now time.Time) {
	t.Helper()
	ast, err := time.Parse(time.RFC3339Nano, string(m.AvailabilityStartTime))
	if err != nil {
		t.Fatal(err)
	}
	p := m.Periods[len(m.Periods)-1]
	pstart := time.Duration(*p.Start)
	edge := now.Sub(ast)
	for k, as := range p.AdaptationSets {
		st := as.Representations[0].SegmentTemplate
		ts := float64(*st.Timescale)
		var pto uint64
		if st.PresentationTimeOffset != nil {
			pto = *st.PresentationTimeOffset
		}
		ato := time.Duration(float64(st.AvailabilityTimeOffset) * float64(time.Second))
		_, segs := listedSegments(t, &mpd.MPD{Periods: []*mpd.Period{p}}, "")
		list := segs[k]
		sec := func(v uint64) time.Duration { return time.Duration(float64(v) / ts * float64(time.Second)) }
		for _, s := range list {
			avail := ast.Add(pstart + sec(s.t-pto) + sec(s.d) - ato)
			// /time has millisecond resolution (truncated)
			if avail.Sub(now) >= time.Millisecond {
				t.Fatalf("%s segment %d available at %s, after the server's time %s (publishTime %s)",
					as.ContentType, s.number, avail.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), m.PublishTime)
			}
		}
		found := -1
		for i, s := range list {
			if start := pstart + sec(s.t-pto); start <= edge && edge < start+sec(s.d) {
				found = i
			}
		}
		if found < len(list)-2 {
			last := list[len(list)-1]
			t.Fatalf("%s: live edge %v is in segment %d of %d (last t=%v d=%v)", as.ContentType, edge, found, len(list),
				pstart+sec(last.t-pto), sec(last.d))
		}
	}
}
