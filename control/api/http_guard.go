package api

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the HTTPGuard fields.
const (
	DefaultMaxConnsPerAddr = 64
	DefaultBodyTimeout     = 10 * time.Second
)

// HTTPGuard bounds what one client can hold of the HTTP listener, in front of both
// the REST API and playback: open connections per client address (Listener) and
// the time a request body may take to arrive (Handler). Header reads are bounded by
// http.Server.ReadHeaderTimeout; responses (SSE, blocking playlist reloads, VOD
// downloads) are not bounded here.
type HTTPGuard struct {
	// MaxConnsPerAddr is the number of open connections one client address (an IPv4
	// address or an IPv6 /64) may hold; more are closed as soon as they are
	// accepted (--max-conns-per-ip). Loopback counts like any other address.
	// 0 = DefaultMaxConnsPerAddr (64); negative = unlimited.
	MaxConnsPerAddr int
	// BodyTimeout bounds reading a whole request body, from the end of its headers
	// (--body-timeout); a body still arriving then fails with 408 REQUEST_TIMEOUT
	// and the connection is closed. Requests without a body are not affected.
	// Default DefaultBodyTimeout (10 s).
	BodyTimeout time.Duration
	// Log receives refused connections (at most one line per 10 s). Default
	// slog.Default().
	Log *slog.Logger

	mu        sync.Mutex
	conns     map[netip.Addr]int // open connections per client address
	refused   int                // refused since the last log line
	loggedAt  time.Time
	initiated bool
}

func (g *HTTPGuard) init() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.initiated {
		return
	}
	g.initiated = true
	if g.MaxConnsPerAddr == 0 {
		g.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if g.BodyTimeout <= 0 {
		g.BodyTimeout = DefaultBodyTimeout
	}
	if g.Log == nil {
		g.Log = slog.Default()
	}
	g.conns = map[netip.Addr]int{}
}

// Listener wraps ln so that each client address holds at most MaxConnsPerAddr
// connections. A connection over the limit is closed at once (the client sees a
// reset or EOF) and Accept goes on with the next one.
func (g *HTTPGuard) Listener(ln net.Listener) net.Listener {
	g.init()
	if g.MaxConnsPerAddr < 0 {
		return ln
	}
	return &guardListener{Listener: ln, g: g}
}

// Handler wraps h so that request bodies must arrive within BodyTimeout.
func (g *HTTPGuard) Handler(h http.Handler) http.Handler {
	g.init()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(g.BodyTimeout)); err != nil {
			h.ServeHTTP(w, r)
			return
		}
		body := &deadlineBody{ReadCloser: r.Body, rc: rc}
		r.Body = body
		h.ServeHTTP(w, r)
		if !body.done {
			// The handler refused the request without reading all of its body.
			// net/http would read the rest (up to 256 KiB) before closing or
			// reusing the connection: stop at what has already arrived.
			_ = rc.SetReadDeadline(time.Now())
		}
	})
}

// deadlineBody clears the connection's read deadline when the body is read to its
// end, so that net/http's background read (which notices a client going away)
// does not cancel a long response such as an SSE stream.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// acquire counts a connection of key, or reports that key is at the limit.
func (g *HTTPGuard) acquire(key netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns[key] >= g.MaxConnsPerAddr {
		g.refused++
		if now := time.Now(); now.Sub(g.loggedAt) >= 10*time.Second {
			g.Log.Warn("too many connections from one address, closing new ones",
				"addr", key.String(), "limit", g.MaxConnsPerAddr, "refused", g.refused)
			g.loggedAt, g.refused = now, 0
		}
		return false
	}
	g.conns[key]++
	return true
}

// release uncounts a connection of key.
func (g *HTTPGuard) release(key netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns[key] <= 1 {
		delete(g.conns, key)
		return
	}
	g.conns[key]--
}

// guardListener is HTTPGuard.Listener.
type guardListener struct {
	net.Listener
	g *HTTPGuard
}

func (l *guardListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := clientAddr(nc.RemoteAddr().String())
		if !ok { // not TCP: not limited
			return nc, nil
		}
		if !l.g.acquire(key) {
			_ = nc.Close()
			continue
		}
		return &guardConn{Conn: nc, g: l.g, key: key}, nil
	}
}

// guardConn releases its slot once, when closed.
type guardConn struct {
	net.Conn
	g    *HTTPGuard
	key  netip.Addr
	once sync.Once
}

func (c *guardConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.g.release(c.key) })
	return err
}

// CloseWrite lets net/http half-close before closing (its RST avoidance).
func (c *guardConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps net/http's sendfile path (segments, VOD downloads) through the
// wrapper.
func (c *guardConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// clientAddr is the client of a remote address ("ip:port") for per-client limits,
// as a map key that costs no allocation: the IPv4 address, or the first address of
// the IPv6 /64 (a host usually holds a whole /64). ok is false for an address that
// does not parse.
func clientAddr(remoteAddr string) (a netip.Addr, ok bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	a = ap.Addr().Unmap()
	if a.Is4() {
		return a, true
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return a, true
	}
	return p.Addr(), true
}
