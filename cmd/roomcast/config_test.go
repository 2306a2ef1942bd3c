package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	if c.DataDir != want.DataDir || c.HTTPAddr != ":8080" || c.RTMPAddr != ":1935" ||
		c.PublicHTTPURL != "http://localhost:8080" || c.PublicRTMPURL != "rtmp://localhost:1935" ||
		c.RTMPApp != "live" || c.SegmentDuration != 2*time.Second || c.PartDuration != 200*time.Millisecond {
		t.Fatalf("defaults: %+v", c)
	}
	if c.MaxCPU != 0.85 || c.MaxSchedLatency != 50*time.Millisecond || c.MaxIngestLag != 500*time.Millisecond {
		t.Fatalf("admission defaults: cpu %v sched %v lag %v", c.MaxCPU, c.MaxSchedLatency, c.MaxIngestLag)
	}
	off, err := parseConfig([]string{"--max-cpu", "0", "--max-sched-latency", "0", "--max-ingest-lag", "0"}, env(nil), io.Discard)
	if err != nil || off.MaxCPU != 0 || off.MaxSchedLatency != 0 || off.MaxIngestLag != 0 {
		t.Fatalf("admission off: %+v %v", off, err)
	}
}

func TestParseConfigEnvAndFlags(t *testing.T) {
	e := env(map[string]string{
		"ROOMCAST_HTTP_ADDR":        "127.0.0.1:9000",
		"ROOMCAST_RTMP_APP":         "ingest",
		"ROOMCAST_PART_DURATION":    "300ms",
		"ROOMCAST_MAX_PUBLISHERS":   "7",
		"ROOMCAST_APP_KEY":          "k",
		"ROOMCAST_APP_SECRET":       "s",
		"ROOMCAST_PUBLIC_HTTP_URL":  "https://video.example.com",
		"ROOMCAST_LOG_FORMAT":       "json",
		"ROOMCAST_SEGMENT_DURATION": "4s",
	})
	c, err := parseConfig([]string{"--http-addr", "127.0.0.1:9001", "--live-window=8"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9001" {
		t.Errorf("flag must win over env: %q", c.HTTPAddr)
	}
	if c.RTMPApp != "ingest" || c.PartDuration != 300*time.Millisecond || c.MaxPublishers != 7 ||
		c.AppKey != "k" || c.AppSecret != "s" || c.PublicHTTPURL != "https://video.example.com" ||
		c.LogFormat != "json" || c.LiveWindow != 8 || c.SegmentDuration != 4*time.Second {
		t.Errorf("env not applied: %+v", c)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"bad log format", []string{"--log-format", "xml"}, nil, "--log-format"},
		{"part longer than segment", []string{"--part-duration", "3s"}, nil, "--part-duration"},
		{"tiny segment", []string{"--segment-duration", "10ms"}, nil, "--segment-duration"},
		{"public url not http", []string{"--public-http-url", "ftp://x"}, nil, "--public-http-url"},
		{"public rtmp url", []string{"--public-rtmp-url", "http://x"}, nil, "--public-rtmp-url"},
		{"rtmp app with slash", []string{"--rtmp-app", "a/b"}, nil, "--rtmp-app"},
		{"negative publishers", []string{"--max-publishers", "-1"}, nil, "--max-publishers"},
		{"cpu over 1", []string{"--max-cpu", "1.5"}, nil, "--max-cpu"},
		{"negative cpu", nil, map[string]string{"ROOMCAST_MAX_CPU": "-0.1"}, "--max-cpu"},
		{"negative sched latency", []string{"--max-sched-latency", "-1ms"}, nil, "--max-sched-latency"},
		{"negative ingest lag", []string{"--max-ingest-lag", "-1s"}, nil, "--max-ingest-lag"},
		{"unknown flag", []string{"--nope"}, nil, "nope"},
		{"stray argument", []string{"serve"}, nil, "unexpected argument"},
		{"bad env duration", nil, map[string]string{"ROOMCAST_IDLE_TIMEOUT": "soon"}, "ROOMCAST_IDLE_TIMEOUT"},
		{"key without secret", nil, map[string]string{"ROOMCAST_APP_KEY": "k"}, "ROOMCAST_APP_SECRET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.args, env(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
