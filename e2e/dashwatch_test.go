//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// request is one request a player sent through a countingProxy.
type request struct {
	at     time.Time
	took   time.Duration // until the whole response was written
	path   string
	status int
	agent  string // User-Agent
	method string
	rng    string // Range header
	bytes  int64  // response body bytes relayed
}

// countingProxy is a reverse proxy in front of the server for one player: it records
// every request, so each player's requests are counted (and 404s seen) even while
// players run side by side.
type countingProxy struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []request
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // chunked (low-latency) segments reach the player as they come
	p := &countingProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		at := time.Now()
		rp.ServeHTTP(sw, r)
		p.mu.Lock()
		p.reqs = append(p.reqs, request{at: at, took: time.Since(at), path: r.URL.Path, status: sw.status,
			agent: r.UserAgent(), method: r.Method, rng: r.Header.Get("Range"), bytes: sw.bytes})
		p.mu.Unlock()
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// url rewrites a server URL to go through the proxy.
func (p *countingProxy) url(serverBase, u string) string {
	return p.srv.URL + strings.TrimPrefix(u, serverBase)
}

func (p *countingProxy) requests() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.reqs...)
}

// summary counts the requests by kind and status: "mpd=12 seg_200=40 seg_404=3 …".
func (p *countingProxy) summary() (string, int) {
	counts := map[string]int{}
	n404 := 0
	for _, r := range p.requests() {
		kind := "other"
		switch {
		case strings.HasSuffix(r.path, ".mpd"):
			kind = "mpd"
		case strings.HasSuffix(r.path, ".m4s"):
			kind = "seg"
		case strings.HasSuffix(r.path, ".mp4"):
			kind = "init"
		}
		counts[kind+"_"+strconv.Itoa(r.status)]++
		if r.status == 404 {
			n404++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + strconv.Itoa(counts[k]) + " ")
	}
	return strings.TrimSpace(b.String()), n404
}

// duplicates counts successful media segment downloads beyond the first of each
// segment: a live player fetches each segment once. immediate counts those that
// started within 100 ms of the end of the same segment's previous download with
// no MPD request in between: the player threw away a whole answer and asked
// again, nothing the server listed had changed.
func (p *countingProxy) duplicates() (dups, immediate int) {
	type last struct {
		end  time.Time
		mpds int
	}
	seen := map[string]last{}
	mpds := 0
	for _, r := range p.requests() {
		if strings.HasSuffix(r.path, ".mpd") {
			mpds++
		}
		if r.status != 200 || !strings.HasSuffix(r.path, ".m4s") {
			continue
		}
		if prev, ok := seen[r.path]; ok {
			dups++
			if prev.mpds == mpds && r.at.Sub(prev.end) < 100*time.Millisecond {
				immediate++
			}
		}
		seen[r.path] = last{end: r.at.Add(r.took), mpds: mpds}
	}
	return dups, immediate
}

// dump lists every request (offset from the first one, duration, status, path) for
// a failure report: the order shows whether a duplicate is a player's retry of a
// cut transfer, a re-request after an MPD update, or a second representation.
func (p *countingProxy) dump() string {
	reqs := p.requests()
	var b strings.Builder
	agent := ""
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n  +%6dms %5dms %s %d %7dB %s", r.at.Sub(reqs[0].at).Milliseconds(), r.took.Milliseconds(),
			r.method, r.status, r.bytes, r.path)
		if r.rng != "" {
			fmt.Fprintf(&b, " (Range %s)", r.rng)
		}
		if r.agent != agent {
			agent = r.agent
			fmt.Fprintf(&b, " (User-Agent %q)", agent)
		}
	}
	return b.String()
}

// segmentTimes returns the median time a media segment request took (a server that
// holds requests for segments not yet complete shows here) and the median gap
// between the starts of consecutive video segment requests.
func (p *countingProxy) segmentTimes() (medianTook, medianGap time.Duration) {
	var took, gaps []time.Duration
	var prev time.Time
	for _, r := range p.requests() {
		if !strings.HasSuffix(r.path, ".m4s") || r.status != 200 {
			continue
		}
		took = append(took, r.took)
		if strings.Contains(r.path, "audio") {
			continue
		}
		if !prev.IsZero() {
			gaps = append(gaps, r.at.Sub(prev))
		}
		prev = r.at
	}
	median := func(d []time.Duration) time.Duration {
		if len(d) == 0 {
			return 0
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	return median(took), median(gaps)
}

// segNumber is the $Number$ of a video media segment request.
var segNumber = regexp.MustCompile(`(\d+)\.m4s$`)

// mpdDoc is the part of a live MPD the edge watcher reads.
type mpdDoc struct {
	AvailabilityStartTime string `xml:"availabilityStartTime,attr"`
	Periods               []struct {
		AdaptationSets []struct {
			ContentType     string       `xml:"contentType,attr"`
			MimeType        string       `xml:"mimeType,attr"`
			SegmentTemplate *segTemplate `xml:"SegmentTemplate"`
			Representations []struct {
				SegmentTemplate *segTemplate `xml:"SegmentTemplate"`
			} `xml:"Representation"`
		} `xml:"AdaptationSet"`
	} `xml:"Period"`
}

type segTemplate struct {
	StartNumber *int64 `xml:"startNumber,attr"`
	Timescale   int64  `xml:"timescale,attr"`
	Duration    int64  `xml:"duration,attr"`
	Timeline    *struct {
		S []struct {
			D int64 `xml:"d,attr"`
			R int64 `xml:"r,attr"`
		} `xml:"S"`
	} `xml:"SegmentTimeline"`
}

// videoEdge returns the newest video segment number the MPD lists (or, for a
// $Number$ template without timeline, the newest complete one by the clock) and the
// mean segment duration.
func (m *mpdDoc) videoEdge(now time.Time) (newest int64, segDur float64, ok bool) {
	for _, p := range m.Periods {
		for _, as := range p.AdaptationSets {
			if as.ContentType != "video" && !strings.HasPrefix(as.MimeType, "video") {
				continue
			}
			st := as.SegmentTemplate
			if st == nil && len(as.Representations) > 0 {
				st = as.Representations[0].SegmentTemplate
			}
			if st == nil {
				continue
			}
			start, ts := int64(1), st.Timescale
			if st.StartNumber != nil {
				start = *st.StartNumber
			}
			if ts == 0 {
				ts = 1
			}
			if st.Timeline != nil {
				var n, d int64
				for _, s := range st.Timeline.S {
					r := max(s.R, 0)
					n += 1 + r
					d += s.D * (1 + r)
				}
				if n == 0 {
					return 0, 0, false
				}
				return start + n - 1, float64(d) / float64(ts) / float64(n), true
			}
			if st.Duration > 0 {
				ast, err := time.Parse(time.RFC3339Nano, m.AvailabilityStartTime)
				if err != nil {
					return 0, 0, false
				}
				dur := float64(st.Duration) / float64(ts)
				return start + int64(math.Floor(now.Sub(ast).Seconds()/dur)) - 1, dur, true
			}
		}
	}
	return 0, 0, false
}

// edgeSample is the live edge seen at one moment.
type edgeSample struct {
	at     time.Time
	newest int64
	segDur float64
}

// edgeWatcher polls the MPD (directly, not through a player's proxy) four times a
// second and remembers the live edge over time.
type edgeWatcher struct {
	mu      sync.Mutex
	samples []edgeSample
	ast     time.Time
}

func watchEdge(t *testing.T, mpdURL string) *edgeWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	w := &edgeWatcher{}
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			w.poll(ctx, mpdURL)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *edgeWatcher) poll(ctx context.Context, mpdURL string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", mpdURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m mpdDoc
	if resp.StatusCode != 200 || xml.Unmarshal(body, &m) != nil {
		return
	}
	now := time.Now()
	newest, dur, ok := m.videoEdge(now)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ast, err := time.Parse(time.RFC3339Nano, m.AvailabilityStartTime); err == nil {
		w.ast = ast
	}
	w.samples = append(w.samples, edgeSample{at: now, newest: newest, segDur: dur})
}

// availabilityStart is the MPD's availabilityStartTime last seen (zero if none yet).
func (w *edgeWatcher) availabilityStart() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ast
}

// at returns the live edge last seen at or before t.
func (w *edgeWatcher) at(t time.Time) (edgeSample, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := sort.Search(len(w.samples), func(i int) bool { return w.samples[i].at.After(t) })
	if i == 0 {
		return edgeSample{}, false
	}
	return w.samples[i-1], true
}

// behind measures how far behind the live edge a player asks for video segments: for
// each successful video segment request, the newest segment listed at that moment
// minus the requested number, in segments and in seconds (× mean segment duration).
// It returns the medians and the value at the last request.
func (w *edgeWatcher) behind(reqs []request) (medianSegs, medianSecs, lastSecs float64, n int) {
	var segs, secs []float64
	for _, r := range reqs {
		m := segNumber.FindStringSubmatch(r.path)
		if m == nil || r.status != 200 || strings.Contains(r.path, "audio") {
			continue
		}
		num, _ := strconv.ParseInt(m[1], 10, 64)
		e, ok := w.at(r.at)
		if !ok {
			continue
		}
		d := float64(e.newest - num)
		segs = append(segs, d)
		secs = append(secs, d*e.segDur)
	}
	if len(segs) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), 0
	}
	lastSecs = secs[len(secs)-1]
	sort.Float64s(segs)
	sort.Float64s(secs)
	return segs[len(segs)/2], secs[len(secs)/2], lastSecs, len(segs)
}

// playbackRequests reads roomcast_playback_requests_total from /metrics by code.
func (in *instance) playbackRequests(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(in.httpURL + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	code := regexp.MustCompile(`code="(\d+)"`)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "roomcast_playback_requests_total{") {
			continue
		}
		m := code.FindStringSubmatch(line)
		f := strings.Fields(line)
		if m == nil || len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		out[m[1]] += v
	}
	return out
}
