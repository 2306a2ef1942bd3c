package packager

import (
	"slices"
	"time"
)

// percentiles returns p50 and p99 of d (sorted in place).
func percentiles(d []time.Duration) (p50, p99 time.Duration, n int) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	return d[len(d)*50/100], d[min(len(d)-1, len(d)*99/100)], len(d)
}
