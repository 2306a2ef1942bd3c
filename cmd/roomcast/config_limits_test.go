package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestParseConfigHTTPLimits: the HTTP abuse bounds (README flags table) have their
// defaults, 0 turns the caps off, and bad values name their flag.
func TestParseConfigHTTPLimits(t *testing.T) {
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxConnsPerIP != 64 || c.BodyTimeout != 10*time.Second || c.MaxAPIRequests != 256 {
		t.Fatalf("defaults: conns %d body %v api %d", c.MaxConnsPerIP, c.BodyTimeout, c.MaxAPIRequests)
	}
	off, err := parseConfig([]string{"--max-conns-per-ip", "0", "--max-api-requests=0"},
		env(map[string]string{"ROOMCAST_BODY_TIMEOUT": "30s"}), io.Discard)
	if err != nil || off.MaxConnsPerIP != 0 || off.MaxAPIRequests != 0 || off.BodyTimeout != 30*time.Second {
		t.Fatalf("off: %+v %v", off, err)
	}
	if unlimitedIfZero(0) >= 0 || unlimitedIfZero(64) != 64 {
		t.Fatal("unlimitedIfZero")
	}
	for _, args := range [][]string{
		{"--max-conns-per-ip", "-1"}, {"--max-api-requests", "-5"}, {"--body-timeout", "1ms"},
	} {
		if _, err := parseConfig(args, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: error %v, want it to name %s", args, err, args[0])
		}
	}
}
