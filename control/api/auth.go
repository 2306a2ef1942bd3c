package api

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/member"
)

// Context keys set by the auth middlewares.
const (
	ctxApp    = "roomcast.app"
	ctxClaims = "roomcast.claims"
)

// appAuth authenticates the App API: HTTP Basic apiKey:apiSecret.
func (s *Server) appAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		var buf [basicMax]byte
		key, secret, ok := parseBasic(buf[:0], ec.Request().Header.Get("Authorization"))
		if !ok {
			closeIfBody(ec)
			return control.ErrUnauthorized.WithMessage("HTTP Basic apiKey:apiSecret required")
		}
		addr, _ := clientAddr(ec.Request().RemoteAddr) // unparseable: one shared bucket
		now := s.Control.Time()
		if wait := s.authLimit.check(now, addr, key); wait > 0 {
			return tooManyRequests(ec, wait)
		}
		app, err := s.Control.VerifyApp(key, secret)
		if err != nil && errors.Is(err, control.ErrUnauthorized) {
			s.authLimit.failed(now, addr, string(key), s.Control.KnownAPIKey(string(key)))
			closeIfBody(ec)
		}
		if err != nil {
			return err
		}
		s.authLimit.succeeded(now, addr, app.APIKey)
		ec.Set(ctxApp, app)
		return next(ec)
	}
}

// basicMax bounds the decoded credentials of a Basic header parsed without
// allocating (apiKey:apiSecret are far shorter); longer ones are decoded on the heap.
const basicMax = 256

// parseBasic parses an "Authorization: Basic" header value, decoding into buf
// (appended to; a stack buffer of basicMax keeps the request allocation-free).
// user and pass alias the result.
func parseBasic(buf []byte, h string) (user, pass []byte, ok bool) {
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return nil, nil, false
	}
	var src [basicMax*4/3 + 4]byte // the encoded form, as bytes, on the stack
	raw, err := base64.StdEncoding.AppendDecode(buf, append(src[:0], h[len(prefix):]...))
	if err != nil {
		return nil, nil, false
	}
	user, pass, ok = bytes.Cut(raw, []byte{':'})
	return user, pass, ok && len(user) > 0
}

// memberAuth authenticates the Member API: "Authorization: Bearer <accessToken>".
func (s *Server) memberAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return s.memberAuthFrom(false, next)
}

// memberAuthOrQuery is memberAuth that also takes the token from the query
// parameter accessToken when there is no Authorization header: for the routes a
// browser opens without setting headers (EventSource, WebSocket). The header wins
// when both are sent. The parameter is removed from the request before the
// handler runs, so nothing downstream sees or logs it.
func (s *Server) memberAuthOrQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return s.memberAuthFrom(true, next)
}

// accessTokenParam is the query parameter of memberAuthOrQuery.
const accessTokenParam = "accessToken"

// memberAuthFrom authenticates a Member API request by its Bearer header or, when
// query is set, its accessToken query parameter.
func (s *Server) memberAuthFrom(query bool, next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		r := ec.Request()
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok && query && r.Header.Get("Authorization") == "" {
			token, ok = takeQueryToken(r)
		}
		if !ok {
			closeIfBody(ec)
			return control.ErrUnauthorized.WithMessage("Bearer access token required")
		}
		addr, _ := clientAddr(r.RemoteAddr)
		now := s.Control.Time()
		if wait := s.authLimit.check(now, addr, nil); wait > 0 {
			return tooManyRequests(ec, wait)
		}
		cl, err := s.Control.VerifyAccessToken(token)
		if err != nil {
			s.authLimit.failed(now, addr, "", false)
			s.Log.Debug("member authentication failed", "method", r.Method, "uri", redactedURI(r), "addr", addr)
			closeIfBody(ec)
			return err
		}
		ec.Set(ctxClaims, cl)
		return next(ec)
	}
}

// bearerToken returns the token of an "Authorization: Bearer" header value.
func bearerToken(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return h[len(prefix):], true
}

// takeQueryToken returns the accessToken query parameter of r (one, not empty)
// and removes it from r's URL; RequestURI keeps only its redacted form.
func takeQueryToken(r *http.Request) (string, bool) {
	if r.URL.RawQuery == "" {
		return "", false
	}
	q := r.URL.Query()
	vals, present := q[accessTokenParam]
	if !present {
		return "", false
	}
	r.RequestURI = redactedURI(r)
	q.Del(accessTokenParam)
	r.URL.RawQuery = q.Encode()
	if len(vals) != 1 || vals[0] == "" {
		return "", false
	}
	return vals[0], true
}

// secretParams are the query parameters that carry credentials.
var secretParams = []string{accessTokenParam, "streamingToken"}

// redactedURI is r's path and query with the values of secretParams replaced,
// for logs: request URIs are logged only through it.
func redactedURI(r *http.Request) string {
	u := *r.URL
	if u.RawQuery != "" {
		q := u.Query()
		for _, p := range secretParams {
			if q.Has(p) {
				q.Set(p, "REDACTED")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.RequestURI()
}

// closeIfBody makes the connection close after the answer when the request has a
// body: it is refused unread, and net/http would otherwise read the rest of it
// before the next request (a slow client holding the connection).
func closeIfBody(ec echo.Context) {
	if ec.Request().ContentLength != 0 {
		ec.Response().Header().Set("Connection", "close")
	}
}

// appOf returns the authenticated app of an App API request.
func appOf(ec echo.Context) *control.AppInfo { return ec.Get(ctxApp).(*control.AppInfo) }

// claimsOf returns the verified access-token claims of a Member API request.
func claimsOf(ec echo.Context) member.Claims { return ec.Get(ctxClaims).(member.Claims) }
