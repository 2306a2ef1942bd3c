// Package testclock is the settable time source tests hand to the components
// that take a clock (control.Control.Now, viewers.Counter): it stands still
// until the test moves it, so expiry and rate rules are tested without sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is a time that moves only when Add is called. Safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
