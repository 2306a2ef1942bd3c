package api

import (
	"bytes"
	"encoding/base64"
	"errors"
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
	return func(ec echo.Context) error {
		h := ec.Request().Header.Get("Authorization")
		const prefix = "Bearer "
		if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
			closeIfBody(ec)
			return control.ErrUnauthorized.WithMessage("Bearer access token required")
		}
		addr, _ := clientAddr(ec.Request().RemoteAddr)
		now := s.Control.Time()
		if wait := s.authLimit.check(now, addr, nil); wait > 0 {
			return tooManyRequests(ec, wait)
		}
		cl, err := s.Control.VerifyAccessToken(h[len(prefix):])
		if err != nil {
			s.authLimit.failed(now, addr, "", false)
			closeIfBody(ec)
			return err
		}
		ec.Set(ctxClaims, cl)
		return next(ec)
	}
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
