package ingest

import (
	"testing"
)

func TestSplitTarget(t *testing.T) {
	cases := []struct {
		name, connApp, stream string
		target, mode          string
		ok                    bool
	}{
		{"obs split form", "live", "abc?mode=CMAF", "abc", "CMAF", true},
		{"no mode", "live", "abc", "abc", "", true},
		{"whole url in app", "live/abc?mode=RTMP", "", "abc", "RTMP", true},
		{"app repeated in name", "live", "live/abc?mode=RTMP_CMAF", "abc", "RTMP_CMAF", true},
		{"leading slash", "/live/", "/abc?mode=CMAF", "abc", "CMAF", true},
		{"percent encoded key", "live", "a%2Db?mode=CMAF", "a-b", "CMAF", true},
		{"wrong app", "other", "abc", "", "", false},
		{"play form", "play", "0b6c-uuid?streamingToken=tok", "0b6c-uuid", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := "live"
			if c.connApp == "play" {
				app = "play"
			}
			target, q, ok := splitTarget(c.connApp, c.stream, app)
			if ok != c.ok || target != c.target || (ok && q.Get("mode") != c.mode) {
				t.Fatalf("got %q %v %v", target, q, ok)
			}
		})
	}
}

func FuzzSplitTarget(f *testing.F) {
	f.Add("live", "abc?mode=CMAF")
	f.Add("live/abc?mode=RTMP", "")
	f.Add("play", "uuid?streamingToken=x")
	f.Fuzz(func(t *testing.T, app, name string) {
		splitTarget(app, name, "live")
	})
}
