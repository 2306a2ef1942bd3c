package control

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/storage"
)

// Context keys set by the auth middlewares.
const (
	ctxApp    = "roomcast.app"
	ctxClaims = "roomcast.claims"
)

// appInfo is the cached, non-secret part of an app plus its secret hash.
type appInfo struct {
	ID         uint64
	Name       string
	APIKey     string
	SecretHash [sha256.Size]byte
}

// appCache keeps apps verified once, so that App API calls need no store read for
// authentication (GET room stays one read transaction).
type appCache struct {
	mu    sync.RWMutex
	byKey map[string]*appInfo
	byID  map[uint64]*appInfo
}

func (a *appCache) init() {
	a.byKey = map[string]*appInfo{}
	a.byID = map[uint64]*appInfo{}
}

// get returns the cached app for apiKey.
func (a *appCache) get(apiKey string) *appInfo {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.byKey[apiKey]
}

// byAppID returns the cached app with the given ID.
func (a *appCache) byAppID(id uint64) *appInfo {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.byID[id]
}

// put caches app (replacing an older entry with the same ID).
func (a *appCache) put(app storage.App) *appInfo {
	info := &appInfo{ID: app.ID, Name: app.Name, APIKey: app.APIKey}
	copy(info.SecretHash[:], app.APISecretHash)
	a.mu.Lock()
	defer a.mu.Unlock()
	if old := a.byID[app.ID]; old != nil {
		delete(a.byKey, old.APIKey)
	}
	a.byKey[app.APIKey] = info
	a.byID[app.ID] = info
	return info
}

// appAuth authenticates the App API: HTTP Basic apiKey:apiSecret.
func (c *Control) appAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		var buf [basicMax]byte
		key, secret, ok := parseBasic(buf[:0], ec.Request().Header.Get("Authorization"))
		if !ok {
			closeIfBody(ec)
			return ErrUnauthorized.withMessage("HTTP Basic apiKey:apiSecret required")
		}
		addr, _ := clientAddr(ec.Request().RemoteAddr) // unparseable: one shared bucket
		now := c.now()
		if wait := c.authLimit.check(now, addr, key); wait > 0 {
			return tooManyRequests(ec, wait)
		}
		app, err := c.verifyApp(key, secret)
		if err != nil && errors.Is(err, ErrUnauthorized) {
			c.authLimit.failed(now, addr, string(key), c.apps.get(string(key)) != nil)
			closeIfBody(ec)
		}
		if err != nil {
			return err
		}
		c.authLimit.succeeded(now, addr, app.APIKey)
		ec.Set(ctxApp, app)
		return next(ec)
	}
}

// verifyApp checks apiKey:apiSecret against the cache, then the store.
func (c *Control) verifyApp(key, secret []byte) (*appInfo, error) {
	sum := sha256.Sum256(secret)
	info := c.apps.get(string(key)) // no allocation: map index by string(bytes)
	if info == nil {
		var app storage.App
		err := c.Store.View(func(tx *storage.Tx) error {
			var err error
			app, err = tx.AppByAPIKey(string(key))
			return err
		})
		if errors.Is(err, storage.ErrNotFound) {
			return nil, ErrUnauthorized.withMessage("unknown apiKey or wrong apiSecret")
		}
		if err != nil {
			return nil, fmt.Errorf("look up app: %w", err)
		}
		if len(app.APISecretHash) != sha256.Size {
			return nil, ErrUnauthorized.withMessage("unknown apiKey or wrong apiSecret")
		}
		info = c.apps.put(app)
	}
	if subtle.ConstantTimeCompare(sum[:], info.SecretHash[:]) != 1 {
		return nil, ErrUnauthorized.withMessage("unknown apiKey or wrong apiSecret")
	}
	return info, nil
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
func (c *Control) memberAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		h := ec.Request().Header.Get("Authorization")
		const prefix = "Bearer "
		if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
			closeIfBody(ec)
			return ErrUnauthorized.withMessage("Bearer access token required")
		}
		addr, _ := clientAddr(ec.Request().RemoteAddr)
		now := c.now()
		if wait := c.authLimit.check(now, addr, nil); wait > 0 {
			return tooManyRequests(ec, wait)
		}
		cl, err := c.tokens.verify(h[len(prefix):], TokenKindAccess, now)
		if err != nil {
			c.authLimit.failed(now, addr, "", false)
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
func appOf(ec echo.Context) *appInfo { return ec.Get(ctxApp).(*appInfo) }

// claimsOf returns the verified access-token claims of a Member API request.
func claimsOf(ec echo.Context) TokenClaims { return ec.Get(ctxClaims).(TokenClaims) }

// appName returns the name of app id (cache first, then store).
func (c *Control) appName(tx *storage.Tx, id uint64) string {
	if info := c.apps.byAppID(id); info != nil {
		return info.Name
	}
	app, err := tx.App(id)
	if err != nil {
		return ""
	}
	return c.apps.put(app).Name
}
