package control

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpMetrics counts requests and their latency by method, route template and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newHTTPMetrics registers the HTTP metrics on reg.
func newHTTPMetrics(reg *prometheus.Registry) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomcast_http_requests_total",
			Help: "HTTP requests by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roomcast_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
	}
	for _, col := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("register http metrics: %w", err)
		}
	}
	return m, nil
}

// middleware observes every request. Unmatched paths share the route label
// "unmatched" so that scanners cannot blow up the label set.
func (m *httpMetrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		start := time.Now()
		err := next(ec)
		route := ec.Path()
		var he *echo.HTTPError
		if route == "" || (asError(err, &he) && (he.Code == http.StatusNotFound || he.Code == http.StatusMethodNotAllowed)) {
			route = "unmatched"
		}
		status := ec.Response().Status
		if err != nil {
			// The error handler runs after the middleware chain: predict its status.
			status = statusOf(err)
		}
		method := ec.Request().Method
		m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return err
	}
}

// statusOf is the status httpErrorHandler will write for err.
func statusOf(err error) int {
	var ae apiError
	var he *echo.HTTPError
	switch {
	case asError(err, &ae):
		return ae.status
	case asError(err, &he):
		return he.Code
	}
	return http.StatusInternalServerError
}

// metricsHandler serves reg in the Prometheus text format.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
