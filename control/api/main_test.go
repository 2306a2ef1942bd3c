package api

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves goroutines behind (servers, timers).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
