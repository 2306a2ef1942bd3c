//go:build !unix

package admission

import "time"

// processCPUTime is not measured on this platform: the CPU signal reads 0.
func processCPUTime() (time.Duration, bool) { return 0, false }
