// Package dash renders MPEG-DASH MPDs (ISO/IEC 23009-1, isoff-live profile) of a
// packager timeline with github.com/Eyevinn/dash-mpd: one Period per run of
// segments that share an init version and continuous timestamps, one
// AdaptationSet per track, SegmentTemplate with $Number$ and a SegmentTimeline.
//
// Every DASH media segment starts with a SAP of type 1 (startWithSAP="1", ISO/IEC
// 23009-1 5.3.3.2; DASH-IF IOP 3.2.2): the packager ends the first segment of a
// run after its first part so that LL-HLS can start at once, and the next
// segment continues that GOP without a key frame (timeline.Segment.NotIndependent).
// DASH lists the two as one segment ({track}_d{n}.m4s, n the MSN of the
// continuation, served as the concatenation of both files), which is exactly
// the GOP a DASH-only packager would have cut; a continuation whose first half
// left the live window is not listed. Signalling startWithSAP="0" instead would be
// truthful but lets players join on a segment they cannot decode.
//
// Live MPDs are low-latency (DASH-IF IOP Part 9 / ISO/IEC 23009-1 Annex K): the
// segment in progress is listed with an estimated duration as soon as it starts,
// availabilityTimeOffset makes it available from then on at the latest one part
// target after its start (availabilityTimeComplete="false": the server holds a
// request until its first part, then sends it chunked while it is written), and a ServiceDescription asks for a latency target; MPD timing uses
// one anchor: availabilityStartTime is the wall-clock time of media time 0, the
// first Period starts at 0 and presentationTimeOffset is the media time of a
// Period's start, so segment n is available at AST + Period@start + (t -
// PTO)/timescale + d - availabilityTimeOffset.
//
// Players remember what an MPD said about a segment, so a listed segment keeps
// its $Number$ and start in every later update and never ends later than first
// listed: Shaka Player appends a SegmentTimeline entry only if it ends after the
// last one it has (a segment that grew is appended again and fetched twice),
// and dash.js asks for the segment at the listed end of the last one plus
// 10 ms. The segment in progress is therefore listed with a duration that
// stays the same from one update to the next and covers the GOP (the previous
// DASH segment's duration plus one part target, or a multiple; see estimate),
// and the short first segment of a run is not listed alone while its
// continuation has no part yet (it would be segment n, then n+1 joined).
//
// GStreamer (dashdemux in 1.22, dashdemux2) seeks in a SegmentTimeline by
// adding the start of the Period's first listed segment to the target
// (gst_mpd_client2_stream_seek), which is right only when that segment starts
// at period time 0: in a sliding window it lands segments too far, past the
// live edge, and plays a fraction of the time. Options.FromPeriodStart lists
// the last Period from its first segment (timeline.History, 33 bytes a segment
// in memory; the media of segments that left the window is not served: session
// files stay on disk, preview files are deleted); GStreamer starts at the live
// edge and asks only for segments of the window. Listing from the period start
// costs MPD size: with @r compacting equal durations, a stream of 2 s GOPs
// (29.97 fps, 48 kHz AAC cut at the key frames; TestMPDFromPeriodStartSize)
// gives 44 KB at 1 h and 127 KB at 3 h against 2 KB for the window, rendered
// in 2 and 5 ms once per snapshot (up to five a second), and 60/180 KB of
// history in memory. The packager hands it only to GStreamer (User-Agent), not
// to every player: dash.js and Shaka fetch the MPD every 0.5–1 s (127 KB each
// time would cost a viewer about 2 Mbit/s at 3 h, more than the video), and
// ffmpeg's dashdec starts 60 s before the end of what is listed.
// A new Period at every update would also put the first listed segment at
// period time 0, but makes dash.js and Shaka switch periods every few seconds.
//
// Ownership rules: functions here are pure; they read an immutable
// timeline.Timeline and return new bytes. Options.Query is appended to the init
// and media templates so that players authenticate without carrying the MPD's
// query string.
package dash

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"

	"github.com/roomcast/roomcast/packager/timeline"
)

// ErrNoContent is returned when the timeline has no complete segment yet.
var ErrNoContent = errors.New("no segment yet")

// UTCTimingScheme is the UTCTiming scheme of the time endpoint (ISO 8601 over HTTP).
const UTCTimingScheme = "urn:mpeg:dash:utc:http-iso:2014"

const (
	profileLive     = "urn:mpeg:dash:profile:isoff-live:2011"
	profileOnDemand = "urn:mpeg:dash:profile:isoff-on-demand:2011"
	dateTimeLayout  = "2006-01-02T15:04:05.000Z"
)

// Options tune rendering.
type Options struct {
	// Query is appended to every template URL ("streamingToken=..."), without "?".
	Query string
	// TimeURL is the absolute URL of the UTCTiming endpoint; empty omits UTCTiming.
	TimeURL string
	// Static renders a static (VOD) MPD with mediaPresentationDuration.
	Static bool
	// MinimumUpdatePeriod for dynamic MPDs (default: LowLatencyUpdatePeriod).
	MinimumUpdatePeriod time.Duration
	// LatencyTarget is the ServiceDescription latency target of live MPDs
	// (default: DefaultLatencyTarget).
	LatencyTarget time.Duration
	// FromPeriodStart lists the last Period from its first segment (from
	// Timeline.History) instead of from the live window, for players that
	// mis-seek otherwise (see the package doc).
	FromPeriodStart bool
}

// Defaults of live MPDs.
const (
	// DefaultLatencyTarget is the ServiceDescription Latency@target.
	DefaultLatencyTarget = 2 * time.Second
	// LowLatencyUpdatePeriod is MPD@minimumUpdatePeriod: the segment in progress
	// is listed from its start and its successor's t is only known
	// from an update, so players refresh often (the MPD is cached per snapshot).
	LowLatencyUpdatePeriod = 500 * time.Millisecond
)

// MediaFile returns the name of DASH media segment msn of a track: the MSN of its
// last timeline segment, prefixed with "d" so that it never collides with the HLS
// segment of the same MSN (a DASH segment may hold two of them, see Joins).
func MediaFile(track string, msn uint64) string {
	return track + "_d" + strconv.FormatUint(msn, 10) + ".m4s"
}

// Joins reports whether DASH lists s together with prev, the segment before it,
// as one media segment: s continues the GOP that prev (the short first segment
// of a run) started, so s alone does not start with a SAP.
func Joins(prev, s *timeline.Segment) bool {
	return s.NotIndependent && prev != nil && prev.MSN+1 == s.MSN && !s.Discontinuity && prev.Version == s.Version
}

func (o Options) uri(name string) string {
	if o.Query == "" {
		return name
	}
	return name + "?" + o.Query
}

// MPD renders the manifest of tl.
func MPD(tl *timeline.Timeline, o Options) ([]byte, error) {
	if len(tl.Segments) == 0 {
		return nil, ErrNoContent
	}
	m := mpd.NewMPD(mpd.DYNAMIC_TYPE)
	m.Profiles = profileLive
	target := time.Duration(tl.TargetDuration) * time.Second
	m.MinBufferTime = dur(target)
	m.MaxSegmentDuration = dur(target)
	last := tl.Segments[len(tl.Segments)-1]
	end := last.PDT.Add(last.Duration)
	live := !o.Static && !tl.Ended
	if !live {
		if o.Static {
			m.Type = mpd.Ptr(mpd.STATIC_TYPE)
		}
		m.MediaPresentationDuration = dur(end.Sub(tl.Start))
	} else {
		mup := o.MinimumUpdatePeriod
		if mup <= 0 {
			mup = LowLatencyUpdatePeriod
		}
		m.MinimumUpdatePeriod = dur(mup)
		var depth time.Duration
		for _, s := range tl.Segments {
			depth += s.Duration
		}
		m.TimeShiftBufferDepth = dur(depth)
		// for players that ignore the ServiceDescription: two segments behind
		// the live edge, where a complete segment always exists
		m.SuggestedPresentationDelay = dur(2 * target)
		m.ServiceDescription = []*mpd.ServiceDescriptionType{serviceDescription(o)}
	}
	if !o.Static {
		m.AvailabilityStartTime = mpd.DateTime(tl.Start.UTC().Format(dateTimeLayout))
		m.PublishTime = mpd.DateTime(tl.Updated.UTC().Format(dateTimeLayout))
	}
	rs := runs(tl.Segments)
	for k, run := range rs {
		last := k == len(rs)-1
		p, err := period(tl, run, live && last, o, o.FromPeriodStart && last)
		if errors.Is(err, ErrNoContent) && last && k > 0 {
			break // its first segment is withheld (see firstAlone)
		}
		if err != nil {
			return nil, err
		}
		m.Periods = append(m.Periods, p)
	}
	if o.TimeURL != "" && !o.Static {
		m.UTCTimings = []*mpd.DescriptorType{{SchemeIdUri: UTCTimingScheme, Value: o.TimeURL}}
	}
	var b bytes.Buffer
	if _, err := m.Write(&b, "  ", true); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// serviceDescription asks low-latency players (dash.js, Shaka) for the latency
// target, and how far they may drift from it by changing the playback rate.
func serviceDescription(o Options) *mpd.ServiceDescriptionType {
	t := o.LatencyTarget
	if t <= 0 {
		t = DefaultLatencyTarget
	}
	ms := func(d time.Duration) *uint32 { return mpd.Ptr(uint32(d.Milliseconds())) }
	return &mpd.ServiceDescriptionType{
		Latencies:     []*mpd.LatencyType{{Target: ms(t), Min: ms(t / 2), Max: ms(2 * t)}},
		PlaybackRates: []*mpd.PlaybackRateType{{Min: 0.96, Max: 1.04}},
	}
}

func dur(d time.Duration) *mpd.Duration {
	v := mpd.Duration(d)
	return &v
}

// runs splits segments by period.
func runs(segs []*timeline.Segment) [][]*timeline.Segment {
	var out [][]*timeline.Segment
	start := 0
	for i := 1; i <= len(segs); i++ {
		if i == len(segs) || segs[i].Period != segs[i-1].Period {
			out = append(out, segs[start:i])
			start = i
		}
	}
	return out
}

// item is one DASH media segment of a period: one timeline segment, or two when
// Joins; the last one may be in progress (estimated durations).
type item struct {
	msn      uint64   // $Number$: MSN of the last timeline segment
	base     []uint64 // per track, tfdt of the first sample
	dur      []uint64 // per track, in the track timescale
	size     []int64  // per track, bytes (complete items only)
	duration time.Duration
	pending  bool // in progress: dur is an estimate
}

func newItem(s *timeline.Segment) item {
	it := item{msn: s.MSN, duration: s.Duration}
	for _, t := range s.Tracks {
		it.base = append(it.base, t.BaseTime)
		it.dur = append(it.dur, t.Duration)
		it.size = append(it.size, t.Size)
	}
	return it
}

// items lists the DASH segments of one run of complete segments.
func items(run []*timeline.Segment) []item {
	out := make([]item, 0, len(run))
	var prev *timeline.Segment
	for _, s := range run {
		switch {
		case Joins(prev, s) && len(out) > 0 && out[len(out)-1].msn == prev.MSN:
			it := &out[len(out)-1]
			it.msn, it.duration = s.MSN, it.duration+s.Duration
			for i, t := range s.Tracks {
				it.dur[i] += t.Duration
				it.size[i] += t.Size
			}
		case s.NotIndependent:
			// its key frame left the window: no SAP to start from
		default:
			out = append(out, newItem(s))
		}
		prev = s
	}
	return out
}

// covers reports whether h holds every segment of run, the last period, from
// the period's first segment on.
func covers(h *timeline.History, run []*timeline.Segment) bool {
	last := run[len(run)-1]
	return h.Len() > 0 && h.Period == last.Period && h.Tracks == len(last.Tracks) &&
		h.Period+uint64(h.Len())-1 == last.MSN
}

// historyItems lists the DASH segments of the complete segments of h, joined
// like items (a period's segments share its init version and continue each
// other). Sizes are unknown (zero).
func historyItems(h *timeline.History, v *timeline.Version) []item {
	out := make([]item, 0, h.Len())
	for i := range h.Len() {
		msn := h.Period + uint64(i)
		if h.NotIndependent[i] {
			if i == 0 || len(out) == 0 || out[len(out)-1].msn != msn-1 {
				continue // no SAP to start from
			}
			it := &out[len(out)-1]
			it.msn = msn
			for k := range h.Tracks {
				_, d := h.Track(i, k)
				it.dur[k] += d
			}
			it.duration = timeline.TicksToDuration(it.dur[0], v.Tracks[0].TimeScale)
			continue
		}
		it := item{msn: msn, base: make([]uint64, h.Tracks), dur: make([]uint64, h.Tracks), size: make([]int64, h.Tracks)}
		for k := range h.Tracks {
			it.base[k], it.dur[k] = h.Track(i, k)
		}
		it.duration = timeline.TicksToDuration(it.dur[0], v.Tracks[0].TimeScale)
		out = append(out, it)
	}
	return out
}

// estimate is the duration listed for a segment in progress that has lasted
// elapsed so far, ref being the duration of the DASH segment before it: a whole
// number of steps of ref plus one part target, the fewest that cover elapsed
// and one more part. Players keep what an MPD said about a segment: Shaka
// Player appends a timeline entry only if it ends later than the last one it
// has, dash.js asks for the segment at the listed end of the last one plus
// 10 ms; a segment that ends later than first listed is therefore fetched
// again by both. The estimate thus stays the same from one MPD update to the
// next, and is longer than the segment by up to one part target when the
// publisher keeps its key frame interval (its frame timestamps jitter by a
// millisecond or a frame). Only a GOP longer than that makes it grow, by one
// step at a time, each step one more download of that segment.
func estimate(ref, elapsed, partTarget time.Duration) time.Duration {
	step := ref + partTarget
	if step <= 0 {
		return elapsed + partTarget
	}
	n := max((elapsed+partTarget+step-1)/step, 1)
	return n * step
}

// pending appends the segment in progress cur (continuing the run's last
// segment) with durations estimated from the previous DASH segment. It is
// listed from its start on, before its first part: the segment after the last
// complete one is always listed, so that a player whose buffer ends at the end
// of the last complete segment finds the next one there (Shaka Player looks
// the buffer end up in its timeline, whose last entry may end later: see
// estimate); the handler holds requests for it until its first part.
func pending(out []item, run []*timeline.Segment, cur *timeline.Segment, v *timeline.Version, tl *timeline.Timeline) []item {
	last := run[len(run)-1]
	if cur == nil || cur.MSN != last.MSN+1 || cur.Discontinuity || cur.Version != last.Version {
		return out
	}
	var elapsed time.Duration
	for _, p := range cur.Parts {
		elapsed += p.Duration
	}
	ref := time.Duration(tl.TargetDuration) * time.Second
	it := item{msn: cur.MSN, pending: true, size: make([]int64, len(v.Tracks))}
	for _, t := range last.Tracks {
		it.base = append(it.base, t.BaseTime+t.Duration)
	}
	if Joins(last, cur) {
		if len(out) == 0 || out[len(out)-1].msn != last.MSN {
			return out
		}
		j := out[len(out)-1]
		out = out[:len(out)-1]
		it.base, elapsed = j.base, elapsed+j.duration
	} else if n := len(out); n > 0 {
		ref = out[n-1].duration
	}
	it.duration = estimate(ref, elapsed, tl.PartTarget)
	for _, tr := range v.Tracks {
		it.dur = append(it.dur, uint64(timeline.DurationToTicks(it.duration, tr.TimeScale)))
	}
	return append(out, it)
}

// HasContent reports whether MPD has a segment to list for tl.
func HasContent(tl *timeline.Timeline) bool {
	n := len(tl.Segments)
	return n > 0 && (tl.Ended || !firstAlone(tl.Segments[n-1], tl.Current) || len(runs(tl.Segments)) > 1)
}

// firstAlone reports whether last, the last complete segment of a live stream,
// is the short first segment of a run (one part, see the package doc) and the
// segment after it has not started. It is then not listed: listed alone it
// would be DASH segment last.MSN, and an update later the same media would be
// segment last.MSN+1, joined with its continuation; players would fetch it
// twice. (The packager publishes a segment's end together with the start of
// the next one, so this lasts only while a flushed run waits for its next key
// frame.)
func firstAlone(last, cur *timeline.Segment) bool {
	return last.MSN == last.Period && (cur == nil || cur.MSN != last.MSN+1)
}

// period renders one run of segments; edge is true for the last run of a live
// stream, whose segment in progress is listed.
func period(tl *timeline.Timeline, run []*timeline.Segment, edge bool, o Options, fromStart bool) (*mpd.Period, error) {
	first := run[0]
	v := tl.Version(first.Version)
	if v == nil {
		return nil, ErrNoContent
	}
	win := items(run)
	its := win
	if fromStart && covers(tl.History, run) {
		its = historyItems(tl.History, v)
	}
	var cur *timeline.Segment
	if edge {
		cur = tl.Current
		if last := run[len(run)-1]; firstAlone(last, cur) && len(its) > 0 && its[len(its)-1].msn == last.MSN {
			its = its[:len(its)-1]
		}
	}
	its = pending(its, run, cur, v, tl)
	if len(its) == 0 {
		return nil, ErrNoContent
	}
	p := mpd.NewPeriod()
	p.Id = "p" + strconv.FormatUint(first.Period, 10)
	p.Start = dur(first.PeriodStart)
	for i, tr := range v.Tracks {
		as := adaptationSet(i, tr, its, first.Tracks[i].PeriodBase, bandwidth(win, i, tr.TimeScale), o)
		if it := its[len(its)-1]; it.pending {
			st := as.Representations[0].SegmentTemplate
			st.AvailabilityTimeOffset = mpd.FloatInf64(availabilityTimeOffset(tl, first, it, i, tr.TimeScale).Seconds())
			st.AvailabilityTimeComplete = mpd.Ptr(false)
		}
		p.AdaptationSets = append(p.AdaptationSets, as)
	}
	return p, nil
}

// availabilityTimeOffset makes the segment in progress it available from its
// first part on: its availability start AST + Period@start + (t - PTO)/timescale
// + d - ato is then its start plus the part target, and never later than the
// snapshot (a request made before the first part is held until it exists).
// Rounded up to milliseconds.
func availabilityTimeOffset(tl *timeline.Timeline, first *timeline.Segment, it item, i int, ts uint32) time.Duration {
	start := tl.Start.Add(first.PeriodStart + timeline.TicksToDuration(it.base[i]-first.Tracks[i].PeriodBase, ts))
	d := timeline.TicksToDuration(it.dur[i], ts)
	ato := max(d-tl.PartTarget, start.Add(d).Sub(tl.Updated), 0)
	return (ato + time.Millisecond - 1).Truncate(time.Millisecond)
}

func adaptationSet(i int, tr timeline.Track, its []item, pto uint64, bw int, o Options) *mpd.AdaptationSetType {
	mime := "audio/mp4"
	if tr.Kind == timeline.KindVideo {
		mime = "video/mp4"
	}
	as := mpd.NewAdaptationSetWithParams(string(tr.Kind), mime, true, 1)
	as.Id = mpd.Ptr(uint32(i))
	rep := mpd.NewRepresentationWithID(tr.Name, tr.Codecs, "", bw)
	rep.MimeType = ""
	switch tr.Kind {
	case timeline.KindVideo:
		rep.Width, rep.Height = uint32(tr.Width), uint32(tr.Height)
		if tr.FrameRate > 0 {
			rep.FrameRate = mpd.FrameRateType(frameRate(tr.FrameRate))
		}
	case timeline.KindAudio:
		if tr.SampleRate > 0 {
			sr := mpd.UIntVectorType(strconv.Itoa(tr.SampleRate))
			rep.AudioSamplingRate = &sr
		}
		if tr.Channels > 0 {
			rep.AudioChannelConfigurations = []*mpd.DescriptorType{{
				SchemeIdUri: "urn:mpeg:dash:23003:3:audio_channel_configuration:2011",
				Value:       strconv.Itoa(tr.Channels),
			}}
		}
	}
	st := &mpd.SegmentTemplateType{
		Media:          o.uri(tr.Name + "_d$Number$.m4s"),
		Initialization: o.uri(tr.Init),
	}
	st.Timescale = mpd.Ptr(tr.TimeScale)
	st.StartNumber = mpd.Ptr(uint32(its[0].msn))
	if pto > 0 {
		st.PresentationTimeOffset = mpd.Ptr(pto)
	}
	st.SegmentTimeline = segmentTimeline(its, i)
	rep.SegmentTemplate = st
	as.Representations = []*mpd.RepresentationType{rep}
	return as
}

// segmentTimeline writes S elements with t only where time does not continue and r
// for repeated durations.
func segmentTimeline(its []item, i int) *mpd.SegmentTimelineType {
	tl := &mpd.SegmentTimelineType{}
	var next uint64
	var cur *mpd.S
	for k, it := range its {
		d := it.dur[i]
		if d == 0 {
			d = 1 // a gap: keep $Number$ aligned; the player skips the missing file
		}
		if cur != nil && it.base[i] == next && cur.D == d {
			cur.R++
			next += d
			continue
		}
		cur = &mpd.S{D: d}
		if k == 0 || it.base[i] != next {
			cur.T = mpd.Ptr(it.base[i])
		}
		tl.S = append(tl.S, cur)
		next = it.base[i] + d
	}
	return tl
}

func bandwidth(its []item, i int, ts uint32) int {
	peak := 0
	for _, it := range its {
		if d := timeline.TicksToDuration(it.dur[i], ts); !it.pending && d > 0 {
			peak = max(peak, int(float64(it.size[i]*8)/d.Seconds()))
		}
	}
	return max(peak, 1)
}

func frameRate(f float64) string {
	if r := f * 1001 / 1000; r == float64(int(r)) && f != float64(int(f)) {
		return strconv.Itoa(int(r*1000)) + "/1001"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
