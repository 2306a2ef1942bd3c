package control

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/roomcast/roomcast/control/member"
	"github.com/roomcast/roomcast/storage"
)

// CredentialsFile is the name of the first-start credentials file in the data dir.
const CredentialsFile = "credentials.json"

// Credentials are an app's API credentials, as written to credentials.json and
// printed by `roomcast app create`.
type Credentials struct {
	AppID     uint64 `json:"appId"`
	APIKey    string `json:"apiKey"`
	APISecret string `json:"apiSecret"`
}

// EnsureDefaultApp creates the default app when the store has none (first
// start) and writes its credentials to <dataDir>/credentials.json (mode 0600). key
// and secret choose the credentials (ROOMCAST_APP_KEY / ROOMCAST_APP_SECRET); empty
// ones are generated. created is false when an app already existed (creds is then
// zero and no file is written).
func (c *Control) EnsureDefaultApp(ctx context.Context, dataDir, key, secret string) (created bool, creds Credentials, err error) {
	if err := ctx.Err(); err != nil {
		return false, Credentials{}, err
	}
	path := filepath.Join(dataDir, CredentialsFile)
	err = c.Store.Update(func(tx *storage.Tx) error {
		if tx.AppCount() > 0 {
			return nil
		}
		// An existing credentials file belongs to a store that is gone (replaced or
		// emptied): never overwrite the only copy of its secret.
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s exists but the store %s holds no app: refusing to replace those credentials; "+
				"restore the store from a backup (roomcast backup), or move %s away to start a new install",
				path, c.Store.Path(), CredentialsFile)
		}
		var err error
		creds, err = c.putNewApp(tx, "default", key, secret)
		created = err == nil
		return err
	})
	if err != nil || !created {
		return false, Credentials{}, err
	}
	if err := writeCredentials(path, creds); err != nil {
		return true, creds, err
	}
	c.Log.Info("created the default app; its credentials are in "+path, "appId", creds.AppID, "apiKey", creds.APIKey)
	return true, creds, nil
}

// CreateApp adds an app named name with generated credentials (`roomcast app create`).
func (c *Control) CreateApp(ctx context.Context, name string) (Credentials, error) {
	if err := ctx.Err(); err != nil {
		return Credentials{}, err
	}
	if name == "" {
		return Credentials{}, errors.New("create app: empty name")
	}
	var creds Credentials
	err := c.Store.Update(func(tx *storage.Tx) error {
		var err error
		creds, err = c.putNewApp(tx, name, "", "")
		return err
	})
	return creds, err
}

// putNewApp stores a new app; empty key or secret are generated.
func (c *Control) putNewApp(tx *storage.Tx, name, key, secret string) (Credentials, error) {
	var err error
	if key == "" {
		if key, err = member.NewSecret(16); err != nil {
			return Credentials{}, err
		}
	}
	if secret == "" {
		if secret, err = member.NewSecret(32); err != nil {
			return Credentials{}, err
		}
	}
	now := time.Now().UTC()
	if c.now != nil {
		now = c.now().UTC()
	}
	sum := sha256.Sum256([]byte(secret))
	a := storage.App{Name: name, APIKey: key, APISecretHash: sum[:], CreatedAt: now}
	if err := tx.PutApp(&a); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return Credentials{}, fmt.Errorf("create app: api key already in use: %w", err)
		}
		return Credentials{}, fmt.Errorf("create app: %w", err)
	}
	return Credentials{AppID: a.ID, APIKey: key, APISecret: secret}, nil
}

// writeCredentials writes creds as JSON with mode 0600 (atomically).
func writeCredentials(path string, creds Credentials) error {
	data, err := json.MarshalIndent(creds, "", "  ")
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	return nil
}
