// Package dash renders MPEG-DASH MPDs (ISO/IEC 23009-1, isoff-live profile) of a
// packager timeline with github.com/Eyevinn/dash-mpd: one Period per run of
// segments that share an init version and continuous timestamps, one
// AdaptationSet per track, SegmentTemplate with $Number$ and a SegmentTimeline.
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
	// MinimumUpdatePeriod for dynamic MPDs (default: the target duration).
	MinimumUpdatePeriod time.Duration
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
	if o.Static || tl.Ended {
		if o.Static {
			m.Type = mpd.Ptr(mpd.STATIC_TYPE)
		}
		m.MediaPresentationDuration = dur(end.Sub(tl.Start))
	} else {
		m.MinimumUpdatePeriod = dur(max(o.MinimumUpdatePeriod, target))
		var depth time.Duration
		for _, s := range tl.Segments {
			depth += s.Duration
		}
		m.TimeShiftBufferDepth = dur(depth)
		m.SuggestedPresentationDelay = dur(3 * target)
	}
	if !o.Static {
		m.AvailabilityStartTime = mpd.DateTime(tl.Start.UTC().Format(dateTimeLayout))
		m.PublishTime = mpd.DateTime(tl.Updated.UTC().Format(dateTimeLayout))
	}
	for _, run := range runs(tl.Segments) {
		p, err := period(tl, run, o)
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

func period(tl *timeline.Timeline, run []*timeline.Segment, o Options) (*mpd.Period, error) {
	first := run[0]
	v := tl.Version(first.Version)
	if v == nil {
		return nil, ErrNoContent
	}
	p := mpd.NewPeriod()
	p.Id = "p" + strconv.FormatUint(first.Period, 10)
	p.Start = dur(first.PeriodStart)
	for i, tr := range v.Tracks {
		p.AdaptationSets = append(p.AdaptationSets, adaptationSet(i, tr, run, o))
	}
	return p, nil
}

func adaptationSet(i int, tr timeline.Track, run []*timeline.Segment, o Options) *mpd.AdaptationSetType {
	mime := "audio/mp4"
	if tr.Kind == timeline.KindVideo {
		mime = "video/mp4"
	}
	as := mpd.NewAdaptationSetWithParams(string(tr.Kind), mime, true, 1)
	as.Id = mpd.Ptr(uint32(i))
	rep := mpd.NewRepresentationWithID(tr.Name, tr.Codecs, "", bandwidth(run, i))
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
		Media:          o.uri(tr.Name + "_$Number$.m4s"),
		Initialization: o.uri(tr.Init),
	}
	st.Timescale = mpd.Ptr(tr.TimeScale)
	st.StartNumber = mpd.Ptr(uint32(run[0].MSN))
	pto := run[0].Tracks[i].PeriodBase
	if pto > 0 {
		st.PresentationTimeOffset = mpd.Ptr(pto)
	}
	st.SegmentTimeline = segmentTimeline(run, i)
	rep.SegmentTemplate = st
	as.Representations = []*mpd.RepresentationType{rep}
	return as
}

// segmentTimeline writes S elements with t only where time does not continue and r
// for repeated durations.
func segmentTimeline(run []*timeline.Segment, i int) *mpd.SegmentTimelineType {
	tl := &mpd.SegmentTimelineType{}
	var next uint64
	var cur *mpd.S
	for k, s := range run {
		st := s.Tracks[i]
		d := st.Duration
		if d == 0 {
			d = 1 // a gap: keep $Number$ aligned; the player skips the missing file
		}
		if cur != nil && st.BaseTime == next && cur.D == d {
			cur.R++
			next += d
			continue
		}
		cur = &mpd.S{D: d}
		if k == 0 || st.BaseTime != next {
			cur.T = mpd.Ptr(st.BaseTime)
		}
		tl.S = append(tl.S, cur)
		next = st.BaseTime + d
	}
	return tl
}

func bandwidth(run []*timeline.Segment, i int) int {
	peak := 0
	for _, s := range run {
		if s.Duration > 0 {
			peak = max(peak, int(float64(s.Tracks[i].Size*8)/s.Duration.Seconds()))
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
