package upload

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the uploader's Prometheus series.
type metrics struct {
	objects  prometheus.Counter
	bytes    prometheus.Counter
	failures prometheus.Counter
	lag      prometheus.Histogram
	queue    prometheus.Gauge
	backlog  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		objects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomcast_upload_objects_total", Help: "Objects stored in the object store (media files and index records).",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomcast_upload_bytes_total", Help: "Bytes stored in the object store.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomcast_upload_failures_total", Help: "Upload passes that failed (retried with backoff).",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "roomcast_upload_lag_seconds",
			Help:    "Time from a session's index gaining a record (a segment closed) to that record and its files being stored.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomcast_upload_queue_sessions", Help: "Sessions with files not yet stored (queued, uploading or waiting to retry).",
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomcast_upload_backlog_seconds", Help: "Age of the oldest write not yet stored (0: nothing pending).",
		}),
	}
	if reg != nil {
		for _, c := range m.all() {
			if err := reg.Register(c); err != nil {
				m.unregister(reg)
				return nil, fmt.Errorf("upload: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.objects, m.bytes, m.failures, m.lag, m.queue, m.backlog}
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	if reg == nil || m == nil {
		return
	}
	for _, c := range m.all() {
		reg.Unregister(c)
	}
}

// runGauges refreshes the queue and backlog gauges every second.
func (u *Uploader) runGauges() {
	defer u.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		st := u.Stats()
		u.m.queue.Set(float64(st.Sessions))
		u.m.backlog.Set(st.Backlog.Seconds())
		select {
		case <-u.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stats is a snapshot of the uploader's backlog.
type Stats struct {
	// Sessions not complete whose writes are not all stored.
	Sessions int
	// Backlog is the age of the oldest write not yet stored.
	Backlog time.Duration
	// Failing sessions (waiting to retry).
	Failing int
}

// Stats returns the current backlog.
func (u *Uploader) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	var st Stats
	now := time.Now()
	for _, s := range u.sessions {
		if s.since.IsZero() {
			continue
		}
		st.Sessions++
		st.Backlog = max(st.Backlog, now.Sub(s.since))
		if s.retry != nil {
			st.Failing++
		}
	}
	return st
}
