package chat

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the member message rate limit.
const (
	DefaultRate  = 5  // messages per second, sustained
	DefaultBurst = 10 // messages at once
)

// Limiter is a token bucket per member (golang.org/x/time/rate): Rate messages
// per second with bursts of Burst. Time is passed in, never read, so tests drive
// it with a fake clock.
//
// Memory is bounded by the members who sent within the last two idle periods: a
// bucket left alone for Burst/Rate seconds is full again, exactly like a new one,
// so it can be forgotten without changing any answer. The buckets live in two
// generations; every idle period the older one is dropped and the current one
// becomes the older (a bucket used again moves back). No goroutine: the rotation
// happens inside Allow.
type Limiter struct {
	rate  rate.Limit
	burst int
	idle  time.Duration

	mu      sync.Mutex
	cur     map[uint64]*rate.Limiter
	prev    map[uint64]*rate.Limiter
	rotated time.Time
}

// NewLimiter returns a Limiter of perSecond messages per second, burst at once
// (values ≤ 0 take DefaultRate and DefaultBurst).
func NewLimiter(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		perSecond = DefaultRate
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	idle := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, idle: max(idle, time.Second),
		cur: map[uint64]*rate.Limiter{}, prev: map[uint64]*rate.Limiter{}}
}

// Allow takes one token from member's bucket at now and reports whether there
// was one.
func (l *Limiter) Allow(member uint64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rotate(now)
	b := l.cur[member]
	if b == nil {
		if b = l.prev[member]; b != nil {
			delete(l.prev, member)
		} else {
			b = rate.NewLimiter(l.rate, l.burst)
		}
		l.cur[member] = b
	}
	return b.AllowN(now, 1)
}

// rotate drops the older generation once per idle period.
func (l *Limiter) rotate(now time.Time) {
	since := now.Sub(l.rotated)
	if since < l.idle {
		return
	}
	// New maps rather than clear: a map keeps its buckets after clear, and one
	// burst of senders must not pin memory for good.
	l.prev, l.cur = l.cur, map[uint64]*rate.Limiter{}
	if since >= 2*l.idle {
		l.prev = map[uint64]*rate.Limiter{}
	}
	l.rotated = now
}

// Len is the number of buckets held (both generations).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.prev)
}
