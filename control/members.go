package control

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// streamKeyBytes is the entropy of a stream key secret (≥ 128 bits, SPEC §3).
const streamKeyBytes = 24

// upsertMemberRequest is the body of POST /v2/apps/me/members.
type upsertMemberRequest struct {
	AppUserID            *string `json:"appUserId"`
	AppUserName          *string `json:"appUserName"`
	AppUserProfileImgURL *string `json:"appUserProfileImgUrl"`
}

// validate checks the request.
func (r *upsertMemberRequest) validate() error {
	if r.AppUserID == nil || *r.AppUserID == "" {
		return ErrEmptyMemberUserID
	}
	if err := checkLen("appUserId", *r.AppUserID, maxAppUserIDLen); err != nil {
		return err
	}
	if err := checkLen("appUserName", deref(r.AppUserName), maxAppUserNameLen); err != nil {
		return err
	}
	return checkLen("appUserProfileImgUrl", deref(r.AppUserProfileImgURL), maxURLLen)
}

// onMembersUpsert is POST /v2/apps/me/members: creates the member and its stream key
// (201) or updates name and image (200).
func (c *Control) onMembersUpsert(ec echo.Context) error {
	app := appOf(ec)
	var req upsertMemberRequest
	if err := decodeBody(ec, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	var m storage.Member
	created := false
	err := c.Store.Update(func(tx *storage.Tx) error {
		var err error
		m, err = tx.MemberByAppUserID(app.ID, *req.AppUserID)
		now := c.now().UTC()
		switch {
		case errors.Is(err, storage.ErrNotFound):
			created = true
			m = storage.Member{AppID: app.ID, AppUserID: *req.AppUserID, CreatedAt: now}
		case err != nil:
			return fmt.Errorf("read member: %w", err)
		}
		if req.AppUserName != nil {
			m.AppUserName = *req.AppUserName
		}
		if req.AppUserProfileImgURL != nil {
			m.ProfileImgURL = *req.AppUserProfileImgURL
		}
		m.UpdatedAt = now
		if err := tx.PutMember(&m); err != nil {
			return fmt.Errorf("put member: %w", err)
		}
		if !created {
			return nil
		}
		return c.createStreamKey(tx, &m, now)
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return ec.JSON(status, newMemberJSON(m))
}

// createStreamKey gives member m its stream key.
func (c *Control) createStreamKey(tx *storage.Tx, m *storage.Member, now time.Time) error {
	secret, err := newSecret(streamKeyBytes)
	if err != nil {
		return err
	}
	k := storage.StreamKey{AppID: m.AppID, MemberID: m.ID, Secret: secret, Mode: string(publish.ModeCMAF),
		CreatedAt: now, UpdatedAt: now}
	if err := tx.PutStreamKey(&k); err != nil {
		return fmt.Errorf("put stream key: %w", err)
	}
	m.StreamKeyID = k.ID
	if err := tx.PutMember(m); err != nil {
		return fmt.Errorf("put member: %w", err)
	}
	return nil
}

// newSecret returns n random bytes, base64url without padding.
func newSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// pathMember reads the :appUserId member of the authenticated app.
func (c *Control) pathMember(tx *storage.Tx, ec echo.Context) (storage.Member, error) {
	appUserID, err := pathAppUserID(ec)
	if err != nil {
		return storage.Member{}, err
	}
	m, err := tx.MemberByAppUserID(appOf(ec).ID, appUserID)
	if errors.Is(err, storage.ErrNotFound) {
		return m, ErrMemberNotFound.withMessage("member %q not found", appUserID)
	}
	if err != nil {
		return m, fmt.Errorf("read member: %w", err)
	}
	return m, nil
}

// onMembersGet is GET /v2/apps/me/members/{appUserId}.
func (c *Control) onMembersGet(ec echo.Context) error {
	var m storage.Member
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		m, err = c.pathMember(tx, ec)
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, newMemberJSON(m))
}

// onMe is GET /v2/members/me.
func (c *Control) onMe(ec echo.Context) error {
	cl := claimsOf(ec)
	var m storage.Member
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		m, err = tx.Member(cl.AppID, cl.MemberID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return ErrMemberNotFound
	}
	if err != nil {
		return fmt.Errorf("read member: %w", err)
	}
	return ec.JSON(http.StatusOK, newMemberJSON(m))
}

// tokensRequest is the optional body of POST .../tokens.
type tokensRequest struct {
	// RevokeExisting bumps the member's token version first: every token issued
	// before stops verifying.
	RevokeExisting bool `json:"revokeExisting"`
}

// tokensJSON is the answer of POST .../tokens ("member login").
type tokensJSON struct {
	AccessToken    string      `json:"accessToken"`
	StreamingToken string      `json:"streamingToken"`
	ExpiresAt      *string     `json:"expiresAt"`
	Member         *memberJSON `json:"member"`
}

// onMemberTokensCreate is POST /v2/apps/me/members/{appUserId}/tokens.
func (c *Control) onMemberTokensCreate(ec echo.Context) error {
	var req tokensRequest
	if err := decodeOptionalBody(ec, &req); err != nil {
		return err
	}
	var m storage.Member
	err := c.Store.Update(func(tx *storage.Tx) error {
		var err error
		if m, err = c.pathMember(tx, ec); err != nil || !req.RevokeExisting {
			return err
		}
		m.TokenVersion++
		m.UpdatedAt = c.now().UTC()
		if err := tx.PutMember(&m); err != nil {
			return fmt.Errorf("put member: %w", err)
		}
		return storeTokenVersion(tx, m.ID, m.TokenVersion)
	})
	if err != nil {
		return err
	}
	c.tokens.setVersion(m.ID, m.TokenVersion)
	exp := c.now().Add(c.TokenTTL).UTC().Truncate(time.Second)
	cl := TokenClaims{AppID: m.AppID, MemberID: m.ID, Version: m.TokenVersion, ExpiresAt: exp}
	cl.Kind = TokenKindAccess
	access := c.tokens.sign(cl)
	cl.Kind = TokenKindStreaming
	return ec.JSON(http.StatusOK, tokensJSON{AccessToken: access, StreamingToken: c.tokens.sign(cl),
		ExpiresAt: optTime(exp), Member: newMemberJSON(m)})
}

// onMemberStreamKeyGet is GET /v2/apps/me/members/{appUserId}/stream-key.
func (c *Control) onMemberStreamKeyGet(ec echo.Context) error {
	var k storage.StreamKey
	err := c.Store.View(func(tx *storage.Tx) error {
		m, err := c.pathMember(tx, ec)
		if err != nil {
			return err
		}
		k, err = memberKey(tx, m)
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, c.newStreamKeyJSON(k))
}

// onMeStreamKeyGet is GET /v2/members/me/stream-key.
func (c *Control) onMeStreamKeyGet(ec echo.Context) error {
	cl := claimsOf(ec)
	var k storage.StreamKey
	err := c.Store.View(func(tx *storage.Tx) error {
		m, err := tx.Member(cl.AppID, cl.MemberID)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrMemberNotFound
		}
		if err != nil {
			return fmt.Errorf("read member: %w", err)
		}
		k, err = memberKey(tx, m)
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, c.newStreamKeyJSON(k))
}

// memberKey reads the stream key of m.
func memberKey(tx *storage.Tx, m storage.Member) (storage.StreamKey, error) {
	k, err := tx.StreamKey(m.StreamKeyID)
	if errors.Is(err, storage.ErrNotFound) {
		return k, ErrStreamKeyNotFound
	}
	if err != nil {
		return k, fmt.Errorf("read stream key: %w", err)
	}
	return k, nil
}

// onMemberStreamKeyReset is POST /v2/apps/me/members/{appUserId}/stream-key/reset:
// a new secret; refused with 400 STREAM_KEY_PUBLISHING while the key publishes.
func (c *Control) onMemberStreamKeyReset(ec echo.Context) error {
	var k storage.StreamKey
	err := c.Store.Update(func(tx *storage.Tx) error {
		m, err := c.pathMember(tx, ec)
		if err != nil {
			return err
		}
		if k, err = memberKey(tx, m); err != nil {
			return err
		}
		if k.Publishing {
			return ErrStreamKeyPublishing
		}
		if k.Secret, err = newSecret(streamKeyBytes); err != nil {
			return err
		}
		k.UpdatedAt = c.now().UTC()
		return tx.PutStreamKey(&k)
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, c.newStreamKeyJSON(k))
}
