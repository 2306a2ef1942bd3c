package packager

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics counts playback requests by route and status and times them. The
// playback routes are served outside the REST API's middleware (they are the hot
// path), so they carry their own, cheaper instruments.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	edge     *prometheus.CounterVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomcast_playback_requests_total",
			Help: "Playback HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roomcast_playback_request_duration_seconds",
			Help:    "Playback HTTP request latency by route (blocking playlist reloads included).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		edge: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomcast_edge_requests_total",
			Help: "Playback requests for live sessions another node holds, by result: hit (media file from the edge cache), fetch (one upstream request), shared (waited for an identical request's fetch).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.edge} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// unregister removes the instruments from reg (a failed Initialize); nil metrics
// have none.
func (m *httpMetrics) unregister(reg prometheus.Registerer) {
	if m == nil {
		return
	}
	reg.Unregister(m.requests)
	reg.Unregister(m.duration)
	reg.Unregister(m.edge)
}

// instrument wraps h; with nil metrics it returns h unchanged.
func (m *httpMetrics) instrument(route string, h http.HandlerFunc) http.HandlerFunc {
	if m == nil {
		return h
	}
	obs := m.duration.WithLabelValues(route)
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(&sw, r)
		obs.Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	}
}

// statusWriter records the status code. It forwards io.ReaderFrom so that
// http.ServeContent keeps using sendfile for segment files, and Flush.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// edgeRequest counts one edge request; nil metrics count nothing.
func (m *httpMetrics) edgeRequest(result string) {
	if m != nil {
		m.edge.WithLabelValues(result).Inc()
	}
}
