package ingest

import (
	"time"

	"github.com/roomcast/roomcast/ingest/health"
	"github.com/roomcast/roomcast/publish"
)

// healthInterval is how often every publish's health is sampled.
const healthInterval = time.Second

// runHealth samples the meter of every publish once a second and hands the
// warnings raised or resolved to OnHealth; it ends with the Server's context.
func (s *Server) runHealth() {
	defer close(s.healthDone)
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	var meters []*health.Meter
	var changes []publish.HealthChange
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			meters = s.meters(meters[:0])
			changes = s.sampleHealth(now, meters, changes[:0])
			clear(meters) // keep no stopped meter alive until the next tick
		}
	}
}

// meters appends the meter of every publish to dst.
func (s *Server) meters(dst []*health.Meter) []*health.Meter {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.publishers {
		dst = append(dst, p.meter)
	}
	return dst
}

// sampleHealth samples meters and reports the changes. healthMu orders these
// reports with the resolutions of a stopping publish (stopMeter): a warning is
// never reported raised after the publish's stop reported it resolved.
func (s *Server) sampleHealth(now time.Time, meters []*health.Meter, changes []publish.HealthChange) []publish.HealthChange {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	for _, m := range meters {
		changes = m.Sample(now, changes)
	}
	s.reportHealth(changes)
	return changes
}

// stopMeter stops the meter of a publish that ends and reports its active
// warnings as resolved (CausePublishStopped).
func (s *Server) stopMeter(m *health.Meter) {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	s.reportHealth(m.Stop(nil))
}

func (s *Server) reportHealth(changes []publish.HealthChange) {
	for _, c := range changes {
		verb := "raised"
		if c.Resolved {
			verb = "resolved"
		}
		s.Log.Info("stream health warning "+verb, "stream", c.StreamID, "warning", c.Warning,
			"value", c.Value, "threshold", c.Threshold, "cause", c.Cause)
	}
	if len(changes) > 0 && s.OnHealth != nil {
		s.OnHealth(changes)
	}
}

// Health returns the measured health of stream id's publish (as of its last
// sample, once a second), or nil when it is not publishing.
func (s *Server) Health(id publish.StreamID) *publish.Health {
	if m := s.meter(id); m != nil {
		return m.Snapshot()
	}
	return nil
}

// HealthHistory appends the last 5 minutes of stream id's health, one sample a
// second, oldest first, to dst; nothing when it is not publishing.
func (s *Server) HealthHistory(id publish.StreamID, dst []publish.HealthSample) []publish.HealthSample {
	if m := s.meter(id); m != nil {
		return m.History(dst)
	}
	return dst
}

func (s *Server) meter(id publish.StreamID) *health.Meter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.publishers[id]; p != nil {
		return p.meter
	}
	return nil
}
