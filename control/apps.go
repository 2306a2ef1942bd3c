package control

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"github.com/roomcast/roomcast/storage"
)

// AppInfo is the cached, non-secret part of an app plus its secret hash.
type AppInfo struct {
	ID         uint64
	Name       string
	APIKey     string
	SecretHash [sha256.Size]byte
}

// appCache keeps apps verified once, so that App API calls need no store read for
// authentication (GET room stays one read transaction).
type appCache struct {
	mu    sync.RWMutex
	byKey map[string]*AppInfo
	byID  map[uint64]*AppInfo
}

func (a *appCache) init() {
	a.byKey = map[string]*AppInfo{}
	a.byID = map[uint64]*AppInfo{}
}

// get returns the cached app for apiKey.
func (a *appCache) get(apiKey string) *AppInfo {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.byKey[apiKey]
}

// byAppID returns the cached app with the given ID.
func (a *appCache) byAppID(id uint64) *AppInfo {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.byID[id]
}

// put caches app (replacing an older entry with the same ID).
func (a *appCache) put(app storage.App) *AppInfo {
	info := &AppInfo{ID: app.ID, Name: app.Name, APIKey: app.APIKey}
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

// VerifyApp checks apiKey:apiSecret against the cache, then the store.
func (c *Control) VerifyApp(key, secret []byte) (*AppInfo, error) {
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
			return nil, ErrUnauthorized.WithMessage("unknown apiKey or wrong apiSecret")
		}
		if err != nil {
			return nil, fmt.Errorf("look up app: %w", err)
		}
		if len(app.APISecretHash) != sha256.Size {
			return nil, ErrUnauthorized.WithMessage("unknown apiKey or wrong apiSecret")
		}
		info = c.apps.put(app)
	}
	if subtle.ConstantTimeCompare(sum[:], info.SecretHash[:]) != 1 {
		return nil, ErrUnauthorized.WithMessage("unknown apiKey or wrong apiSecret")
	}
	return info, nil
}

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

// KnownAPIKey reports whether apiKey belongs to an app already verified once (the
// failed-authentication budgets treat unknown keys apart).
func (c *Control) KnownAPIKey(apiKey string) bool { return c.apps.get(apiKey) != nil }
