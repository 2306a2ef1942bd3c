// Package testwait is how tests wait for a condition instead of sleeping to
// synchronise: poll it until it holds, fail the test after a deadline that only
// bounds a failing run.
package testwait

import (
	"testing"
	"time"
)

// Poll is how often Until checks its condition.
const Poll = 10 * time.Millisecond

// Until polls cond every Poll until it holds, and fails t (naming what) when d
// passes first.
func Until(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(Poll)
	}
}
