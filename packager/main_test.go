package packager

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind (waiting viewers,
// stream readers, the janitor).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// http.Get's default transport keeps idle connections
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
