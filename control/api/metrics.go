package api

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/roomcast/roomcast/control"
)

// httpMetrics counts requests and their latency by method, route template and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// children caches the label-bound counter and histogram per label set, so that
	// a request costs one map read instead of two label hashings and an Itoa. The
	// label sets are bounded: registered routes × their methods × statuses, plus
	// "unmatched".
	children sync.Map // routeLabels → *routeMetrics
}

// routeLabels is one label set of the HTTP metrics.
type routeLabels struct {
	method, route string
	status        int
}

// routeMetrics are the metrics of one label set.
type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// of returns the metrics of the label set l.
func (m *httpMetrics) of(l routeLabels) *routeMetrics {
	if v, ok := m.children.Load(l); ok {
		return v.(*routeMetrics)
	}
	rm := &routeMetrics{
		requests: m.requests.WithLabelValues(l.method, l.route, strconv.Itoa(l.status)),
		latency:  m.latency.WithLabelValues(l.method, l.route),
	}
	v, _ := m.children.LoadOrStore(l, rm)
	return v.(*routeMetrics)
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
		rm := m.of(routeLabels{method: methodLabel(ec.Request().Method), route: route, status: status})
		rm.requests.Inc()
		rm.latency.Observe(time.Since(start).Seconds())
		return err
	}
}

// methodLabel is the method label: the standard methods as they are, anything
// else "OTHER" (a client's made-up methods must not grow the label set).
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// statusOf is the status httpErrorHandler will write for err.
func statusOf(err error) int {
	var ae control.APIError
	var he *echo.HTTPError
	switch {
	case asError(err, &ae):
		return ae.Status()
	case asError(err, &he):
		return he.Code
	}
	return http.StatusInternalServerError
}

// metricsHandler serves reg in the Prometheus text format.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
