package load

import (
	"time"
)

func (r *Runner) streamReport(s *streamRun, elapsed time.Duration) StreamReport {
	sr := StreamReport{Index: s.idx, RoomID: s.roomID, ViewURL: s.viewURL}
	if s.key != "" {
		sr.Key = Redact(s.key)
	}
	if !r.Config.NoPublish {
		sr.PublishURL = redactURL(s.publishURL, s.key)
	}
	if e := s.setupErr.Load(); e != nil {
		sr.SetupError = *e
	}
	if s.pub != nil {
		sr.Publish = r.publishReport(&s.pub.stats, elapsed)
		sr.Publish.PublishingAtEnd = s.liveAtEnd
	}
	if r.Config.Viewers > 0 {
		agg := newViewAgg()
		agg.add(&s.views, r.Config.Viewers)
		v := agg.report(elapsed)
		sr.View = &v
	}
	return sr
}

func (r *Runner) publishReport(st *publishStats, elapsed time.Duration) *PublishReport {
	p := &PublishReport{
		Attempts: st.attempts.Load(), Publishes: st.publishes.Load(), Refused: st.refused.Load(),
		ConnectFailures: st.connFails.Load(), Disconnects: st.disconnects.Load(),
		WriteErrors: st.writeErrors.Load(), Bytes: st.bytes.Load(), Tags: st.tags.Load(),
		MediaSeconds: round3(time.Duration(st.mediaSent.Load()).Seconds()),
		MaxLagMS:     ms(time.Duration(st.maxLag.Load())), FinalLagMS: ms(time.Duration(st.finalLag.Load())),
		LateTags: st.lateTags.Load(), LastError: st.err(),
	}
	if elapsed > 0 {
		p.Kbps = round2(float64(p.Bytes) * 8 / 1000 / elapsed.Seconds())
	}
	p.KeptRealtime = !r.Config.Fast && p.Publishes > 0 && p.Disconnects == 0 &&
		time.Duration(st.maxLag.Load()) <= r.Config.LagLimit
	return p
}

func addPublish(t *PublishTotals, sr StreamReport, finals *Histogram) {
	if sr.SetupError != "" {
		t.SetupFailures++
	}
	p := sr.Publish
	if p == nil {
		return
	}
	if p.Publishes > 0 {
		t.Published++
		finals.Observe(time.Duration(p.FinalLagMS * float64(time.Millisecond)))
	}
	if p.PublishingAtEnd {
		t.PublishingAtEnd++
	}
	if p.KeptRealtime {
		t.KeptRealtime++
	}
	t.Refused += p.Refused
	t.ConnectFailures += p.ConnectFailures
	t.Disconnects += p.Disconnects
	t.WriteErrors += p.WriteErrors
	t.Bytes += p.Bytes
	t.Tags += p.Tags
	t.MediaSeconds = round3(t.MediaSeconds + p.MediaSeconds)
	t.MaxLagMS = max(t.MaxLagMS, p.MaxLagMS)
}

// viewAgg merges the viewStats of several streams.
type viewAgg struct {
	viewers                              int
	kinds                                [numKinds]kindAgg
	partAge, segmentAge, firstPlayable   Histogram
	startRetries, startFailures, skipped int64
	lastErr                              string
}

type kindAgg struct {
	latency                                   Histogram
	errors, statusErrors, transportErrors, by int64
}

func newViewAgg() *viewAgg { return &viewAgg{} }

func (a *viewAgg) add(s *viewStats, viewers int) {
	a.viewers += viewers
	for k := range numKinds {
		ks, ka := &s.kinds[k], &a.kinds[k]
		ka.latency.Merge(&ks.latency)
		ka.errors += ks.errors.Load()
		ka.statusErrors += ks.statusErrors.Load()
		ka.transportErrors += ks.transportError.Load()
		ka.by += ks.bytes.Load()
	}
	a.partAge.Merge(&s.partAge)
	a.segmentAge.Merge(&s.segmentAge)
	a.firstPlayable.Merge(&s.firstPlayable)
	a.startRetries += s.startRetries.Load()
	a.startFailures += s.startFailures.Load()
	a.skipped += s.skipped.Load()
	if e := s.err(); e != "" {
		a.lastErr = e
	}
}

func (a *viewAgg) report(elapsed time.Duration) ViewReport {
	v := ViewReport{
		Viewers: a.viewers, Requests: map[string]KindReport{},
		PartAge: a.partAge.Summary(), SegmentAge: a.segmentAge.Summary(), FirstPlayable: a.firstPlayable.Summary(),
		StartRetries: a.startRetries, StartFailures: a.startFailures, Skipped: a.skipped, LastError: a.lastErr,
	}
	for k := range numKinds {
		ka := &a.kinds[k]
		kr := KindReport{Errors: ka.errors, StatusErrors: ka.statusErrors, TransportErrors: ka.transportErrors,
			Bytes: ka.by, Latency: ka.latency.Summary()}
		kr.OK = kr.Latency.Count
		if kr.OK == 0 && kr.Errors == 0 {
			continue
		}
		v.Requests[reqKind(k).String()] = kr
		v.OK += kr.OK
		v.Errors += kr.Errors
		v.Bytes += kr.Bytes
	}
	if elapsed > 0 {
		v.RequestsPerS = round2(float64(v.OK+uint64(v.Errors)) / elapsed.Seconds())
	}
	return v
}
