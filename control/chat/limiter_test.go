package chat

import (
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// allowed counts how many of n messages of member at now pass.
func allowed(l *Limiter, member uint64, now time.Time, n int) int {
	ok := 0
	for range n {
		if l.Allow(member, now) {
			ok++
		}
	}
	return ok
}

// TestLimiterBucket: a burst of Burst passes, then one message per 1/Rate; each
// member has its own bucket. Time is passed in: no sleeping.
func TestLimiterBucket(t *testing.T) {
	t.Parallel()
	l := NewLimiter(5, 10)
	if got := allowed(l, 1, t0, 15); got != 10 {
		t.Fatalf("burst: %d of 15 allowed, want 10", got)
	}
	if got := allowed(l, 2, t0, 3); got != 3 {
		t.Fatalf("another member: %d of 3 allowed", got)
	}
	if got := allowed(l, 1, t0.Add(199*time.Millisecond), 1); got != 0 {
		t.Fatal("a token before 200 ms")
	}
	if got := allowed(l, 1, t0.Add(200*time.Millisecond), 2); got != 1 {
		t.Fatalf("after 200 ms: %d allowed, want 1", got)
	}
	// One second later: 5 more tokens, not 10.
	if got := allowed(l, 1, t0.Add(1200*time.Millisecond), 10); got != 5 {
		t.Fatalf("after 1 s: %d allowed, want 5", got)
	}
}

// TestLimiterForgetsIdleMembers: memory is bounded by recent senders, and a
// forgotten bucket answers like the full one it was (burst again), while an
// active member keeps its state across rotations.
func TestLimiterForgetsIdleMembers(t *testing.T) {
	t.Parallel()
	l := NewLimiter(5, 10) // idle period 2 s
	for id := uint64(1); id <= 1000; id++ {
		l.Allow(id, t0)
	}
	if l.Len() != 1000 {
		t.Fatalf("Len %d", l.Len())
	}
	// Member 7 drains its bucket and keeps sending once per 200 ms: it never
	// gets more than its rate, however the generations rotate.
	allowed(l, 7, t0, 20)
	for i := 1; i <= 40; i++ {
		now := t0.Add(time.Duration(i) * 200 * time.Millisecond)
		if got := allowed(l, 7, now, 2); got != 1 {
			t.Fatalf("step %d: %d allowed, want 1 (state lost in a rotation?)", i, got)
		}
	}
	if n := l.Len(); n != 1 {
		t.Fatalf("after 8 s only member 7 is kept: Len %d", n)
	}
	// Member 1 was forgotten: a full burst, as its bucket would have refilled.
	if got := allowed(l, 1, t0.Add(8*time.Second), 12); got != 10 {
		t.Fatalf("forgotten member: %d allowed, want 10", got)
	}
	// A long pause drops everything at once.
	l.Allow(9, t0.Add(time.Hour))
	if l.Len() != 1 {
		t.Fatalf("after an hour: Len %d", l.Len())
	}
}

// TestLimiterDefaults: non-positive settings take the defaults.
func TestLimiterDefaults(t *testing.T) {
	t.Parallel()
	if got := allowed(NewLimiter(0, -1), 1, t0, 2*DefaultBurst); got != DefaultBurst {
		t.Fatalf("default burst: %d", got)
	}
}
