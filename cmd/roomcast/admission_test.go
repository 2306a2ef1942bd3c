package main

import (
	"strings"
	"testing"

	"github.com/roomcast/roomcast/ingest/admission"
)

// TestAdmissionWiredWithMetrics: the default server runs admission control (--max-cpu
// 0.85, --max-sched-latency 50ms, --max-ingest-lag 500ms) and exposes its metrics.
func TestAdmissionWiredWithMetrics(t *testing.T) {
	c := testConfig(t, t.TempDir())
	d := defaultConfig()
	c.MaxCPU, c.MaxSchedLatency = d.MaxCPU, d.MaxSchedLatency // testConfig turns them off
	s := startServer(t, c)
	defer s.Close()
	adm, ok := s.ingest.Admission.(*admission.Controller)
	if !ok || adm.MaxCPU != 0.85 || adm.Refusing() {
		t.Fatalf("admission %+v", s.ingest.Admission)
	}
	code, body := get(t, "http://"+s.HTTPAddr()+"/metrics", "", "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, m := range []string{
		`roomcast_ingest_publishers_refused_total{reason="overload"} 0`,
		`roomcast_ingest_publishers_refused_total{reason="max_publishers"} 0`,
		"roomcast_ingest_admission_refusing 0",
		"roomcast_ingest_admission_pressure",
		"roomcast_ingest_cpu_utilisation_ratio",
		"roomcast_ingest_sched_latency_p99_seconds",
		"roomcast_ingest_backlog_seconds",
	} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}
