// Package testparallel lets a package's TestMain raise the default -parallel of
// its test binary: tests that publish or play in real time mostly wait on the
// media clock, so GOMAXPROCS (the testing default) would serialise them for
// nothing. An explicit -parallel on the command line wins.
package testparallel

import (
	"flag"
	"strconv"
)

// Default parses the test flags and sets -parallel to n unless it was given.
// Call it first in TestMain, before m.Run.
func Default(n int) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
}
