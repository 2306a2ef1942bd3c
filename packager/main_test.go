package packager

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/internal/testparallel"
)

// TestMain fails the package if a test leaves goroutines behind (waiting viewers,
// stream readers, the janitor).
func TestMain(m *testing.M) {
	raiseDefaultParallel()
	goleak.VerifyTestMain(m,
		// http.Get's default transport keeps idle connections
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// parallelWallClock is the default -parallel of this package: its parallel tests
// publish or play in real time (gohlslib's client paces to the media clock) and
// mostly wait, so GOMAXPROCS (the testing default) would serialise them for
// nothing (nine of them wait ~10 s each). An explicit -parallel wins.
const parallelWallClock = 16

func raiseDefaultParallel() {
	testparallel.Default(parallelWallClock)
}
