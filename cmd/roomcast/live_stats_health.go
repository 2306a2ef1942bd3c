package main

import (
	"sync/atomic"

	"github.com/roomcast/roomcast/ingest"
	pub "github.com/roomcast/roomcast/publish"
)

// ingestHealth is the ingest half of control.LiveStats: the measured health of
// each live publish, read from the RTMP server (set once it runs; before, no
// key publishes and every answer is empty).
type ingestHealth struct {
	rtmp atomic.Pointer[ingest.Server]
}

// IngestHealth returns the health of stream key keyID's publish, nil when it is
// not publishing.
func (h *ingestHealth) IngestHealth(keyID uint64) *pub.Health {
	if s := h.rtmp.Load(); s != nil {
		return s.Health(pub.StreamID(keyID))
	}
	return nil
}

// IngestHistory returns the last 5 minutes of stream key keyID's publish, one
// sample a second, oldest first.
func (h *ingestHealth) IngestHistory(keyID uint64) []pub.HealthSample {
	if s := h.rtmp.Load(); s != nil {
		return s.HealthHistory(pub.StreamID(keyID), nil)
	}
	return nil
}
