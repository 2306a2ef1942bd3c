package health

import (
	"time"

	"github.com/roomcast/roomcast/publish"
)

// warning is the hysteresis state of one health warning.
type warning struct {
	active bool
	// since is the first sample of the current run pushing toward a change
	// (beyond the threshold while inactive, inside the clear bound while active).
	since time.Time
	// value and threshold of the last evaluation.
	value, threshold float64
}

// step records one evaluation: bad means beyond the threshold, good inside the
// clear bound (neither: in the hysteresis band). It reports whether the warning
// was raised or resolved.
func (w *warning) step(now time.Time, bad, good bool, raiseAfter, clearAfter time.Duration) bool {
	toward, hold := bad, raiseAfter
	if w.active {
		toward, hold = good, clearAfter
	}
	if !toward {
		w.since = time.Time{}
		return false
	}
	if w.since.IsZero() {
		w.since = now
	}
	if now.Sub(w.since) < hold {
		return false
	}
	w.active, w.since = !w.active, time.Time{}
	return true
}

// Indexes of Meter.warns (the order of publish.HealthWarnings).
const (
	iKeyframe = iota
	iBitrate
	iFrameRate
	iLag
)

// evaluate steps every warning that can be measured now and appends the
// changes to dst.
func (m *Meter) evaluate(now time.Time, rec record, bitrate float64, dst []publish.HealthChange) []publish.HealthChange {
	s := &m.u
	var changed [len(m.warns)]bool
	maxKFI := m.MaxKeyframeInterval.Seconds()
	if s.keySeen {
		changed[iKeyframe] = m.step(now, iKeyframe, rec.kfi, maxKFI, rec.kfi > maxKFI, rec.kfi <= maxKFI, 0)
	}
	if now.Sub(m.Start) >= warmUp {
		avg := m.health.AvgBitrateKbps
		low, clear := avg*m.BitrateLowRatio, avg*min(1, 1.5*m.BitrateLowRatio)
		changed[iBitrate] = m.step(now, iBitrate, bitrate, low, bitrate < low, bitrate >= clear, m.BitrateLowFor)
	}
	if span := s.vLast - s.vFirst; s.video != nil && span >= warmUp {
		ref := float64(s.vFrames-1) / span.Seconds()
		low, clear := ref*m.FrameRateDropRatio, ref*(1+m.FrameRateDropRatio)/2
		changed[iFrameRate] = m.step(now, iFrameRate, rec.fps, low, rec.fps < low, rec.fps >= clear, m.RaiseAfter)
	}
	maxLag := float64(m.MaxLag.Milliseconds())
	lag := float64(rec.lagMs)
	changed[iLag] = m.step(now, iLag, lag, maxLag, lag > maxLag, lag <= maxLag/2, m.RaiseAfter)
	m.health.Warnings = m.active[:0]
	for i, w := range m.warns {
		if w.active {
			m.health.Warnings = append(m.health.Warnings, publish.HealthWarnings[i])
		}
	}
	for i, c := range changed {
		switch {
		case !c:
		case m.warns[i].active:
			dst = append(dst, m.change(i, false, ""))
		default:
			dst = append(dst, m.change(i, true, publish.CauseRecovered))
		}
	}
	return dst
}

// step evaluates warning i with its measured value and threshold, and reports
// whether it was raised or resolved.
func (m *Meter) step(now time.Time, i int, value, threshold float64, bad, good bool, raiseAfter time.Duration) bool {
	w := &m.warns[i]
	w.value, w.threshold = value, threshold
	return w.step(now, bad, good, raiseAfter, m.ClearAfter)
}

// change describes a raise or resolution of warning i (with the Health after it).
func (m *Meter) change(i int, resolved bool, cause publish.HealthCause) publish.HealthChange {
	w := &m.warns[i]
	return publish.HealthChange{StreamID: m.StreamID, Warning: publish.HealthWarnings[i], Resolved: resolved,
		Cause: cause, Value: round(w.value, 1000), Threshold: round(w.threshold, 1000), Health: *m.snapshotLocked()}
}
