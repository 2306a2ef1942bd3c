package admission

import (
	"sync/atomic"
	"time"
)

// Backlog is how far a publisher's media timestamps fell behind the wall clock
// since it published: with the publisher and the server keeping real time it stays
// near 0; when the server (or the publisher's machine) cannot keep up, messages
// arrive later and later and it grows. Observe runs on the publisher's connection
// goroutine; Value may be read from any goroutine (a Host's AppendLags). The zero
// Backlog is ready to use.
type Backlog struct {
	value atomic.Int64 // ns

	started bool
	lastTS  uint32
	media   time.Duration // unwrapped media time of the last message
	base    time.Duration // smallest wall-minus-media offset seen (creeping up)
	lastNow time.Time
}

const (
	// backlogJump: a timestamp going back by more than this is a discontinuity
	// (publisher restart, loop): the baseline starts over. Audio and video interleave
	// with small steps back; a jump forward only lowers the baseline.
	backlogJump = time.Second
	// backlogCreep: the baseline rises by this fraction of wall time, so that
	// encoder clock drift and an old, recovered backlog fade.
	backlogCreep = 0.002
)

// Value is the current backlog.
func (b *Backlog) Value() time.Duration { return time.Duration(b.value.Load()) }

// Observe records a message with RTMP timestamp ts (ms) received at now.
func (b *Backlog) Observe(ts uint32, now time.Time) {
	if !b.started {
		b.started, b.lastTS, b.lastNow = true, ts, now
		b.media = 0
		b.base = time.Duration(now.UnixNano())
		return
	}
	d := time.Duration(int32(ts-b.lastTS)) * time.Millisecond // wraps at 2^32 ms
	b.lastTS = ts
	b.media += d
	offset := time.Duration(now.UnixNano()) - b.media
	if d < -backlogJump {
		b.base = offset
	}
	b.base += time.Duration(float64(now.Sub(b.lastNow)) * backlogCreep)
	b.lastNow = now
	if offset < b.base {
		b.base = offset
	}
	b.value.Store(int64(offset - b.base))
}
