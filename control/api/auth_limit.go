package api

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/roomcast/roomcast/control"
	"golang.org/x/time/rate"
)

// ErrTooManyRequests answers an authentication attempt from a client address, or
// for an apiKey, that failed too often lately (Retry-After says when to try again).
var ErrTooManyRequests = control.NewAPIError(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "too many failed authentication attempts; retry later")

// Failed-authentication budgets: a token bucket per client address and per apiKey,
// spent only by failures, so successful requests never wait. An address over its
// budget gets 429 before its credentials are checked; so does an apiKey over its
// budget (guessing from many addresses), except from addresses that have used it
// successfully, so its owner keeps working while it is attacked.
const (
	authAddrBurst    = 10
	authAddrInterval = 6 * time.Second // one more failure per address every 6 s
	authKeyBurst     = 100
	authKeyInterval  = time.Second // one more failure per apiKey every second
	// authIdle: an entry whose bucket is full and that was not used for this long
	// is forgotten (memory stays bounded by recent clients).
	authIdle = 10 * time.Minute
	// authMaxAddrs bounds the addresses tracked (about 250 bytes each, so at most
	// ~12 MB); beyond it (after evicting idle entries) new addresses are limited
	// per apiKey only.
	authMaxAddrs = 50_000
	// authGoodKeys is how many apiKeys an address remembers having used successfully.
	authGoodKeys = 4
)

// authLimiter keeps the failure budgets. Keys of the per-apiKey buckets are only
// apiKeys of existing apps, so their number is bounded by the apps.
type authLimiter struct {
	mu        sync.Mutex
	addrs     map[netip.Addr]*authAddr
	keys      map[string]*authBucket
	lastSweep time.Time
}

// authBucket is a failure budget and when it was last touched.
type authBucket struct {
	lim  *rate.Limiter
	used time.Time
}

// authAddr is what is known of one client address.
type authAddr struct {
	authBucket
	good [authGoodKeys]string // apiKeys that authenticated from this address
	next int                  // ring position in good
}

func (l *authLimiter) init() {
	l.addrs = map[netip.Addr]*authAddr{}
	l.keys = map[string]*authBucket{}
}

// check returns how long addr must wait before its credentials for apiKey (nil for
// bearer tokens) are checked; 0 = go ahead. (apiKey is bytes so that the common
// path allocates nothing.)
func (l *authLimiter) check(now time.Time, addr netip.Addr, apiKey []byte) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.addrs[addr]
	if a != nil {
		a.used = now
		if wait := a.wait(now); wait > 0 {
			return wait
		}
	}
	if len(apiKey) == 0 {
		return 0
	}
	if k := l.keys[string(apiKey)]; k != nil && !a.isGood(string(apiKey)) {
		k.used = now
		return k.wait(now)
	}
	return 0
}

// failed spends one failure of addr's budget and, if apiKey names an app, of
// apiKey's budget.
func (l *authLimiter) failed(now time.Time, addr netip.Addr, apiKey string, appExists bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.addr(now, addr); a != nil {
		a.spend(now)
	}
	if !appExists || apiKey == "" {
		return
	}
	k := l.keys[apiKey]
	if k == nil {
		k = &authBucket{lim: rate.NewLimiter(rate.Every(authKeyInterval), authKeyBurst)}
		l.keys[apiKey] = k
	}
	k.spend(now)
}

// succeeded remembers that apiKey authenticated from addr.
func (l *authLimiter) succeeded(now time.Time, addr netip.Addr, apiKey string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.addrs[addr]; a != nil && a.isGood(apiKey) {
		a.used = now
		return
	}
	a := l.addr(now, addr)
	if a == nil {
		return
	}
	a.good[a.next] = apiKey
	a.next = (a.next + 1) % authGoodKeys
}

// addr returns the entry of addr, created if there is room (nil if not).
func (l *authLimiter) addr(now time.Time, addr netip.Addr) *authAddr {
	a := l.addrs[addr]
	if a == nil {
		if len(l.addrs) >= authMaxAddrs || now.Sub(l.lastSweep) >= authIdle {
			l.sweep(now)
		}
		if len(l.addrs) >= authMaxAddrs {
			return nil
		}
		a = &authAddr{authBucket: authBucket{lim: rate.NewLimiter(rate.Every(authAddrInterval), authAddrBurst)}}
		l.addrs[addr] = a
	}
	a.used = now
	return a
}

// sweep forgets idle entries with full budgets. Under a flood of new addresses it
// runs at most once a second.
func (l *authLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Second {
		return
	}
	l.lastSweep = now
	for k, a := range l.addrs {
		if a.idle(now) {
			delete(l.addrs, k)
		}
	}
	for k, b := range l.keys {
		if b.idle(now) {
			delete(l.keys, k)
		}
	}
}

// wait is how long until the bucket holds one failure again.
func (b *authBucket) wait(now time.Time) time.Duration {
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(b.lim.Limit()) * float64(time.Second))
}

// spend takes one failure from the bucket (none left: nothing to take).
func (b *authBucket) spend(now time.Time) {
	b.used = now
	b.lim.AllowN(now, 1)
}

// idle reports a full bucket not used for authIdle.
func (b *authBucket) idle(now time.Time) bool {
	return now.Sub(b.used) >= authIdle && b.lim.TokensAt(now) >= float64(b.lim.Burst())
}

// isGood reports whether apiKey authenticated from this address (nil: no).
func (a *authAddr) isGood(apiKey string) bool {
	if a == nil || apiKey == "" {
		return false
	}
	for _, k := range a.good {
		if k == apiKey {
			return true
		}
	}
	return false
}

// tooManyRequests is ErrTooManyRequests with Retry-After (whole seconds, at least
// 1) and Connection: close, so an unread request body is not waited for.
func tooManyRequests(ec echo.Context, wait time.Duration) error {
	h := ec.Response().Header()
	h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	h.Set("Connection", "close")
	return ErrTooManyRequests
}
