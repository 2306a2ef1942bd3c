package publish

import (
	"testing"
)

func TestParseStopReason(t *testing.T) {
	for _, r := range []StopReason{StopClientUnpublish, StopIdleTimeout, StopConnectionError, StopInvalidMedia,
		StopBitrateExceeded, StopKeyReset, StopKicked, StopMaxDuration, StopStorageError, StopServerShutdown, StopServerRestart, StopNodeLost} {
		if got := ParseStopReason(r.String()); got != r {
			t.Errorf("ParseStopReason(%q) = %q", r, got)
		}
	}
	for _, s := range []string{"", "client_unpublish", "BOGUS"} {
		if got := ParseStopReason(s); got != StopUnknown {
			t.Errorf("ParseStopReason(%q) = %q, want StopUnknown", s, got)
		}
	}
}
