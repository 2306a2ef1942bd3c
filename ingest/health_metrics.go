package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/ingest/health"
	"github.com/roomcast/roomcast/publish"
)

// healthCollector exports the health of every live publish at scrape time,
// labelled with its stream key ID only (one series set per publishing stream:
// bounded by the publishers; the series of a stopped publish disappear with it).
type healthCollector struct {
	s *Server

	bitrate, avgBitrate, frameRate, keyframe, lag *prometheus.Desc
	repaired, dropped, jumps, warning             *prometheus.Desc
}

func newHealthCollector(s *Server) *healthCollector {
	label := []string{"stream_key_id"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("roomcast_ingest_stream_"+name, help, append(label, labels...), nil)
	}
	return &healthCollector{s: s,
		bitrate:    d("bitrate_bits_per_second", "Ingest bitrate (audio + video payload) over the last 3 s."),
		avgBitrate: d("average_bitrate_bits_per_second", "Ingest bitrate averaged since the publish started."),
		frameRate:  d("frame_rate", "Video frames per second measured from the frame timestamps."),
		keyframe:   d("keyframe_interval_seconds", "Distance between the last two video key frames (or since the last, when longer)."),
		lag:        d("lag_seconds", "How far the stream's media time is behind the wall clock."),
		repaired:   d("timestamps_repaired_total", "Timestamps the ingest repaired in this publish."),
		dropped:    d("tags_dropped_total", "Undecodable tags the ingest dropped in this publish."),
		jumps:      d("timestamp_jumps_total", "Forward jumps of the stream's clock in this publish."),
		warning:    d("warning", "1 while the health warning is active.", "warning"),
	}
}

// Describe implements prometheus.Collector.
func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.bitrate, c.avgBitrate, c.frameRate, c.keyframe, c.lag,
		c.repaired, c.dropped, c.jumps, c.warning} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	ids := make([]publish.StreamID, 0, len(c.s.publishers))
	meters := make([]*health.Meter, 0, len(c.s.publishers))
	for id, p := range c.s.publishers {
		ids, meters = append(ids, id), append(meters, p.meter)
	}
	c.s.mu.Unlock()
	for i, m := range meters {
		c.collect(ch, ids[i].String(), m.Snapshot())
	}
}

func (c *healthCollector) collect(ch chan<- prometheus.Metric, id string, h *publish.Health) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{id}, labels...)...)
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), id)
	}
	gauge(c.bitrate, h.BitrateKbps*1000)
	gauge(c.avgBitrate, h.AvgBitrateKbps*1000)
	if h.Video != nil {
		gauge(c.frameRate, h.Video.FrameRate)
		gauge(c.keyframe, h.Video.KeyframeIntervalSeconds)
	}
	gauge(c.lag, float64(h.IngestLagMs)/1000)
	counter(c.repaired, h.FramesRepaired)
	counter(c.dropped, h.FramesDropped)
	counter(c.jumps, h.TimestampJumps)
	for _, w := range publish.HealthWarnings {
		v := 0.0
		for _, a := range h.Warnings {
			if a == w {
				v = 1
			}
		}
		gauge(c.warning, v, string(w))
	}
}
