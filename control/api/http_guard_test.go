package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control"
)

// guarded serves e's control plane behind guard, as cmd/roomcast does.
func guarded(t *testing.T, e *env, guard *HTTPGuard) *httptest.Server {
	t.Helper()
	if guard.Log == nil {
		guard.Log = e.c.Log
	}
	srv := httptest.NewUnstartedServer(guard.Handler(e.api.Handler()))
	srv.Listener = guard.Listener(srv.Listener)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// dialFrom connects to addr from the loopback address ip (another client).
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, ip, err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// clientFrom is an HTTP client whose connections come from the loopback address ip.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// doWith sends a request with client and reads the answer.
func doWith(t *testing.T, client *http.Client, method, url string, a auth, body string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if a != "" {
		req.Header.Set("Authorization", string(a))
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// startSlowPOST sends the headers of a POST announcing a body of 100 000 bytes and
// its first byte, then nothing more (a client trickling or stalled).
func startSlowPOST(t *testing.T, nc net.Conn, path string, a auth) {
	t.Helper()
	req := "POST " + path + " HTTP/1.1\r\nHost: roomcast\r\nContent-Type: application/json\r\n" +
		"Content-Length: 100000\r\n"
	if a != "" {
		req += "Authorization: " + string(a) + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n{"); err != nil {
		t.Fatal(err)
	}
}

// readAnswerAndEOF reads one HTTP answer from nc and then expects the server to
// close the connection. The 30 s read deadline only bounds a failing test.
func readAnswerAndEOF(t *testing.T, nc net.Conn) *http.Response {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(nc)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		t.Fatalf("read answer body: %v", err)
	}
	res.Body.Close()
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after %d answer: read %d bytes, %v; want the connection closed (EOF)", res.StatusCode, n, err)
	}
	return res
}

// TestUnauthenticatedSlowBodyClosedUnread: a POST without valid credentials is
// answered 401 before its body is read, and the connection is closed at once (the
// body timeout is an hour here, so only the refusal can close it).
func TestUnauthenticatedSlowBodyClosedUnread(t *testing.T) {
	e := newEnv(t, nil)
	creds, _ := e.newApp("a")
	srv := guarded(t, e, &HTTPGuard{BodyTimeout: time.Hour})
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		name, path string
		a          auth
	}{
		{"no credentials", "/v2/apps/me/video-rooms", ""},
		{"wrong secret", "/v2/apps/me/video-rooms", basic(control.Credentials{APIKey: creds.APIKey, APISecret: "wrong"})},
		{"bad bearer", "/v2/members/me/video-rooms", bearer("nope.nope")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := dialFrom(t, "127.0.0.1", addr)
			startSlowPOST(t, nc, tc.path, tc.a)
			if res := readAnswerAndEOF(t, nc); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", res.StatusCode)
			}
		})
	}
}

// TestSlowBodyTimesOut: an authenticated body that stops arriving is cut off after
// BodyTimeout with 408 REQUEST_TIMEOUT and the connection closed.
func TestSlowBodyTimesOut(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("a")
	srv := guarded(t, e, &HTTPGuard{BodyTimeout: 200 * time.Millisecond})
	nc := dialFrom(t, "127.0.0.1", srv.Listener.Addr().String())
	startSlowPOST(t, nc, "/v2/apps/me/video-rooms", app)
	res := readAnswerAndEOF(t, nc)
	if res.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", res.StatusCode)
	}
	// A whole body in time is served as before (the deadline is cleared).
	client := clientFrom(t, "127.0.0.1")
	e.newMember(app, "host")
	body := `{"appUserId":"host","type":"BROADCAST_RTMP","scheduledAt":"2030-01-01T00:00:00Z"}`
	if r := doWith(t, client, "POST", srv.URL+"/v2/apps/me/video-rooms", app, body); r.Status != http.StatusCreated {
		t.Fatalf("create room: %d %s", r.Status, r.Body)
	}
}

// TestConnsPerAddrCapped: one address holds at most MaxConnsPerAddr connections;
// another address is still served, and a freed slot is usable again.
func TestConnsPerAddrCapped(t *testing.T) {
	e := newEnv(t, nil)
	srv := guarded(t, e, &HTTPGuard{MaxConnsPerAddr: 3})
	addr := srv.Listener.Addr().String()
	var held []net.Conn
	for range 3 {
		held = append(held, dialFrom(t, "127.0.0.1", addr))
	}
	// the fourth is closed by the server as soon as it is accepted
	extra := dialFrom(t, "127.0.0.1", addr)
	_ = extra.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(extra, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err == nil {
		if n, err := extra.Read(make([]byte, 64)); err == nil || isTimeout(err) {
			t.Fatalf("fourth connection from one address served: %d bytes, %v", n, err)
		}
	}
	// another address is not affected
	if r := doWith(t, clientFrom(t, "127.0.0.2"), "GET", srv.URL+"/healthz", "", ""); r.Status != 200 {
		t.Fatalf("healthz from another address: %d", r.Status)
	}
	// a closed connection frees its slot
	held[0].Close()
	client := clientFrom(t, "127.0.0.1")
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestAPIInFlightLimit: API requests beyond MaxInFlight get 503 SERVER_BUSY at
// once while /healthz is served; the limit frees up when they end.
func TestAPIInFlightLimit(t *testing.T) {
	e := newEnv(t, nil)
	e.api.MaxInFlight = 2
	e.api.inFlight = make(chan struct{}, 2)
	_, app := e.newApp("a")
	srv := guarded(t, e, &HTTPGuard{BodyTimeout: time.Hour})
	addr := srv.Listener.Addr().String()
	var stalled []net.Conn
	for range 2 {
		nc := dialFrom(t, "127.0.0.1", addr)
		startSlowPOST(t, nc, "/v2/apps/me/video-rooms", app)
		stalled = append(stalled, nc)
	}
	client := clientFrom(t, "127.0.0.2")
	// both stalled requests hold their slot (their handlers wait for the body)
	deadline := time.Now().Add(15 * time.Second)
	for len(e.api.inFlight) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s, %d of the 2 stalled requests hold an in-flight slot", len(e.api.inFlight))
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := doWith(t, client, "GET", srv.URL+"/v2/apps/me/video-rooms", app, "")
	if r.Status != http.StatusServiceUnavailable || r.Code() != "SERVER_BUSY" || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("with 2 stalled requests: %d %s Retry-After %q", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	if r := doWith(t, client, "GET", srv.URL+"/healthz", "", ""); r.Status != 200 {
		t.Fatalf("healthz while the API is busy: %d", r.Status)
	}
	for _, nc := range stalled {
		nc.Close()
	}
	deadline = time.Now().Add(15 * time.Second)
	for doWith(t, client, "GET", srv.URL+"/v2/apps/me/video-rooms", app, "").Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("API still busy after the stalled requests went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAuthFailuresRateLimited: wrong Basic secrets and bad bearer tokens from one
// address are checked 10 times, then answered 429 TOO_MANY_REQUESTS with
// Retry-After without being checked; the right secret from another address works.
func TestAuthFailuresRateLimited(t *testing.T) {
	e := newEnv(t, nil)
	creds, app := e.newApp("a")
	m := e.newMember(app, "host")
	wrong := basic(control.Credentials{APIKey: creds.APIKey, APISecret: "wrong"})
	url := e.srv.URL + "/v2/apps/me/video-rooms"
	attacker := clientFrom(t, "127.0.0.1")

	// As fast as one client goes: how many guesses get checked?
	const attempts = 500
	checked, limited := 0, 0
	start := time.Now()
	for range attempts {
		r := doWith(t, attacker, "GET", url, wrong, "")
		switch r.Status {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
			limited++
			if r.Code() != "TOO_MANY_REQUESTS" {
				t.Fatalf("429 with errorCode %q", r.Code())
			}
			if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("wrong secret: %d %s", r.Status, r.Body)
		}
	}
	took := time.Since(start)
	t.Logf("%d wrong secrets in %v (%.0f/s): %d checked, %d answered 429",
		attempts, took.Round(time.Millisecond), attempts/took.Seconds(), checked, limited)
	if checked != authAddrBurst {
		t.Fatalf("%d wrong secrets checked, want %d", checked, authAddrBurst)
	}
	// The right secret from the attacking address waits too; from another it works.
	if r := doWith(t, attacker, "GET", url, app, ""); r.Status != http.StatusTooManyRequests {
		t.Fatalf("right secret from the limited address: %d", r.Status)
	}
	if r := doWith(t, clientFrom(t, "127.0.0.2"), "GET", url, app, ""); r.Status != 200 {
		t.Fatalf("right secret from another address: %d %s", r.Status, r.Body)
	}
	// The budget refills: one more failure per 6 s.
	e.clock.Add(authAddrInterval)
	if r := doWith(t, attacker, "GET", url, wrong, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("after %v: %d, want 401", authAddrInterval, r.Status)
	}
	if r := doWith(t, attacker, "GET", url, wrong, ""); r.Status != http.StatusTooManyRequests {
		t.Fatalf("second failure after refill: %d, want 429", r.Status)
	}

	// Bearer tokens failing verification count the same way.
	members := e.srv.URL + "/v2/members/me"
	tokenGuesser := clientFrom(t, "127.0.0.3")
	for i := range authAddrBurst {
		if r := doWith(t, tokenGuesser, "GET", members, bearer(fmt.Sprintf("guess%d.x", i)), ""); r.Status != 401 {
			t.Fatalf("bad token %d: %d", i, r.Status)
		}
	}
	if r := doWith(t, tokenGuesser, "GET", members, bearer("guess.x"), ""); r.Status != http.StatusTooManyRequests || r.Code() != "TOO_MANY_REQUESTS" {
		t.Fatalf("bad token over the budget: %d %s", r.Status, r.Body)
	}
	if r := doWith(t, clientFrom(t, "127.0.0.4"), "GET", members, bearer(m.Access), ""); r.Status != 200 {
		t.Fatalf("good token from another address: %d", r.Status)
	}
}

// TestAuthFailuresPerAPIKey: guessing one apiKey's secret from many addresses
// exhausts the key's budget: new addresses get 429 for it, while an address that
// used the key successfully before keeps working.
func TestAuthFailuresPerAPIKey(t *testing.T) {
	e := newEnv(t, nil)
	creds, app := e.newApp("a")
	url := e.srv.URL + "/v2/apps/me/video-rooms"
	owner := clientFrom(t, "127.0.0.2")
	if r := doWith(t, owner, "GET", url, app, ""); r.Status != 200 {
		t.Fatalf("owner: %d", r.Status)
	}
	wrong := basic(control.Credentials{APIKey: creds.APIKey, APISecret: "wrong"})
	for i := range authKeyBurst / authAddrBurst {
		c := clientFrom(t, fmt.Sprintf("127.0.1.%d", i+1))
		for range authAddrBurst {
			if r := doWith(t, c, "GET", url, wrong, ""); r.Status != 401 {
				t.Fatalf("guess from 127.0.1.%d: %d", i+1, r.Status)
			}
		}
	}
	fresh := clientFrom(t, "127.0.2.1")
	if r := doWith(t, fresh, "GET", url, wrong, ""); r.Status != http.StatusTooManyRequests {
		t.Fatalf("guess from a new address after %d failures of the key: %d", authKeyBurst, r.Status)
	}
	if r := doWith(t, owner, "GET", url, app, ""); r.Status != 200 {
		t.Fatalf("owner while its key is attacked: %d", r.Status)
	}
	// another app is not affected
	_, other := e.newApp("b")
	if r := doWith(t, fresh, "GET", url, other, ""); r.Status != 200 {
		t.Fatalf("another app from the new address: %d", r.Status)
	}
}

// TestAuthLimiterForgetsIdleEntries: memory stays bounded by recent clients.
func TestAuthLimiterForgetsIdleEntries(t *testing.T) {
	var l authLimiter
	l.init()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		l.failed(t0, netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)}), "key", true)
	}
	if len(l.addrs) != 1000 || len(l.keys) != 1 {
		t.Fatalf("tracked %d addresses, %d keys", len(l.addrs), len(l.keys))
	}
	later := t0.Add(authIdle + authKeyBurst*authKeyInterval)
	l.failed(later, netip.MustParseAddr("10.1.0.1"), "", false)
	if len(l.addrs) != 1 || len(l.keys) != 0 {
		t.Fatalf("after %v idle: %d addresses, %d keys tracked, want 1 and 0", later.Sub(t0), len(l.addrs), len(l.keys))
	}
}

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:5000", "127.0.0.1"},
		{"[::ffff:10.0.0.1]:80", "10.0.0.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::"},
		{"[fe80::1%eth0]:1", "fe80::"},
		{"garbage", "invalid IP"},
	} {
		if got, _ := clientAddr(tc.in); got.String() != tc.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
