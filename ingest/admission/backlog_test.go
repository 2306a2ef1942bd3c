package admission

import (
	"math"
	"testing"
	"time"
)

// TestBacklog checks the per-publisher backlog on synthetic arrivals.
func TestBacklog(t *testing.T) {
	var b Backlog
	t0 := time.Unix(5000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// real time with jitter: ~0
	for i := range 100 {
		b.Observe(uint32(i*33), at(i*33+(i%3)*5))
	}
	if v := b.Value(); v > 20*time.Millisecond {
		t.Fatalf("real time: backlog %v", v)
	}
	// arriving at 2/3 of real time: grows with each message
	var prev time.Duration
	for i := 100; i < 200; i++ {
		b.Observe(uint32(i*33), at(3300+(i-100)*50))
		v := b.Value()
		if v < prev {
			t.Fatalf("backlog fell from %v to %v while arriving late", prev, v)
		}
		prev = v
	}
	if prev < 1500*time.Millisecond || prev > 1800*time.Millisecond {
		t.Fatalf("100 messages 17 ms late each: backlog %v", prev)
	}
	// a burst catches up: back to ~0
	for i := 200; i < 260; i++ {
		b.Observe(uint32(i*33), at(8300))
	}
	if v := b.Value(); v > 20*time.Millisecond {
		t.Fatalf("after catching up: backlog %v", v)
	}
	// timestamps restart at 0 (discontinuity): no backlog from the jump
	b.Observe(0, at(8340))
	b.Observe(33, at(8373))
	if v := b.Value(); v > 20*time.Millisecond {
		t.Fatalf("after a timestamp reset: backlog %v", v)
	}
	// 32-bit wrap
	var w Backlog
	w.Observe(math.MaxUint32-16, at(0))
	w.Observe(16, at(33))
	if v := w.Value(); v > time.Millisecond {
		t.Fatalf("across the wrap: backlog %v", v)
	}
}
