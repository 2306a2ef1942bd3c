package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/member"
	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// upsertMemberRequest is the body of POST /v2/apps/me/members.
type upsertMemberRequest struct {
	AppUserID            *string `json:"appUserId"`
	AppUserName          *string `json:"appUserName"`
	AppUserProfileImgURL *string `json:"appUserProfileImgUrl"`
}

// validate checks the request.
func (r *upsertMemberRequest) validate() error {
	if r.AppUserID == nil || *r.AppUserID == "" {
		return control.ErrEmptyMemberUserID
	}
	if err := request.CheckLen("appUserId", *r.AppUserID, request.MaxAppUserIDLen); err != nil {
		return err
	}
	if err := request.CheckLen("appUserName", request.Deref(r.AppUserName), request.MaxAppUserNameLen); err != nil {
		return err
	}
	return request.CheckLen("appUserProfileImgUrl", request.Deref(r.AppUserProfileImgURL), request.MaxURLLen)
}

// onMembersUpsert is POST /v2/apps/me/members: creates the member and its stream key
// (201) or updates name and image (200).
func (h *memberHandlers) onMembersUpsert(ec echo.Context) error {
	app := appOf(ec)
	var req upsertMemberRequest
	if err := request.DecodeBody(ec, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	var m storage.Member
	created := false
	err := h.c.Store.Update(func(tx *storage.Tx) error {
		var err error
		m, err = tx.MemberByAppUserID(app.ID, *req.AppUserID)
		now := h.c.Time().UTC()
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
		return control.CreateStreamKey(tx, &m, now)
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return ec.JSON(status, control.NewMemberJSON(m))
}

// pathMember reads the :appUserId member of the authenticated app.
func (h *memberHandlers) pathMember(tx *storage.Tx, ec echo.Context) (storage.Member, error) {
	appUserID, err := request.PathAppUserID(ec)
	if err != nil {
		return storage.Member{}, err
	}
	m, err := tx.MemberByAppUserID(appOf(ec).ID, appUserID)
	if errors.Is(err, storage.ErrNotFound) {
		return m, control.ErrMemberNotFound.WithMessage("member %q not found", appUserID)
	}
	if err != nil {
		return m, fmt.Errorf("read member: %w", err)
	}
	return m, nil
}

// onMembersGet is GET /v2/apps/me/members/{appUserId}.
func (h *memberHandlers) onMembersGet(ec echo.Context) error {
	var m storage.Member
	err := h.c.Store.View(func(tx *storage.Tx) error {
		var err error
		m, err = h.pathMember(tx, ec)
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, control.NewMemberJSON(m))
}

// onMe is GET /v2/members/me.
func (h *memberHandlers) onMe(ec echo.Context) error {
	cl := claimsOf(ec)
	var m storage.Member
	err := h.c.Store.View(func(tx *storage.Tx) error {
		var err error
		m, err = tx.Member(cl.AppID, cl.MemberID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return control.ErrMemberNotFound
	}
	if err != nil {
		return fmt.Errorf("read member: %w", err)
	}
	return ec.JSON(http.StatusOK, control.NewMemberJSON(m))
}

// tokensRequest is the optional body of POST .../tokens.
type tokensRequest struct {
	// RevokeExisting bumps the member's token version first: every token issued
	// before stops verifying.
	RevokeExisting bool `json:"revokeExisting"`
}

// tokensJSON is the answer of POST .../tokens ("member login").
type tokensJSON struct {
	AccessToken    string              `json:"accessToken"`
	StreamingToken string              `json:"streamingToken"`
	ExpiresAt      *string             `json:"expiresAt"`
	Member         *control.MemberJSON `json:"member"`
}

// onMemberTokensCreate is POST /v2/apps/me/members/{appUserId}/tokens.
func (h *memberHandlers) onMemberTokensCreate(ec echo.Context) error {
	var req tokensRequest
	if err := request.DecodeOptionalBody(ec, &req); err != nil {
		return err
	}
	var m storage.Member
	err := h.c.Store.Update(func(tx *storage.Tx) error {
		var err error
		if m, err = h.pathMember(tx, ec); err != nil || !req.RevokeExisting {
			return err
		}
		m.TokenVersion++
		m.UpdatedAt = h.c.Time().UTC()
		if err := tx.PutMember(&m); err != nil {
			return fmt.Errorf("put member: %w", err)
		}
		return member.StoreVersion(tx, m.ID, m.TokenVersion)
	})
	if err != nil {
		return err
	}
	h.c.SetTokenVersion(m.ID, m.TokenVersion)
	exp := h.c.Time().Add(h.c.TokenTTL).UTC().Truncate(time.Second)
	cl := member.Claims{AppID: m.AppID, MemberID: m.ID, Version: m.TokenVersion, ExpiresAt: exp}
	cl.Kind = member.TokenAccess
	access := h.c.SignToken(cl)
	cl.Kind = member.TokenStreaming
	return ec.JSON(http.StatusOK, tokensJSON{AccessToken: access, StreamingToken: h.c.SignToken(cl),
		ExpiresAt: control.OptTime(exp), Member: control.NewMemberJSON(m)})
}

// onMemberStreamKeyGet is GET /v2/apps/me/members/{appUserId}/stream-key.
func (h *memberHandlers) onMemberStreamKeyGet(ec echo.Context) error {
	var k storage.StreamKey
	err := h.c.Store.View(func(tx *storage.Tx) error {
		m, err := h.pathMember(tx, ec)
		if err != nil {
			return err
		}
		k, err = control.MemberKey(tx, m)
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, h.c.NewStreamKeyJSON(k))
}

// onMeStreamKeyGet is GET /v2/members/me/stream-key.
func (h *memberHandlers) onMeStreamKeyGet(ec echo.Context) error {
	cl := claimsOf(ec)
	var k storage.StreamKey
	err := h.c.Store.View(func(tx *storage.Tx) error {
		m, err := tx.Member(cl.AppID, cl.MemberID)
		if errors.Is(err, storage.ErrNotFound) {
			return control.ErrMemberNotFound
		}
		if err != nil {
			return fmt.Errorf("read member: %w", err)
		}
		k, err = control.MemberKey(tx, m)
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, h.c.NewStreamKeyJSON(k))
}

// onMemberStreamKeyReset is POST /v2/apps/me/members/{appUserId}/stream-key/reset:
// a new secret. A key that is publishing has its publisher disconnected
// (KEY_RESET) before the answer: the encoder must use the new key.
func (h *memberHandlers) onMemberStreamKeyReset(ec echo.Context) error {
	var k storage.StreamKey
	err := h.c.Store.Update(func(tx *storage.Tx) error {
		m, err := h.pathMember(tx, ec)
		if err != nil {
			return err
		}
		if k, err = control.MemberKey(tx, m); err != nil {
			return err
		}
		if k.Secret, err = member.NewSecret(member.StreamKeyBytes); err != nil {
			return err
		}
		k.UpdatedAt = h.c.Time().UTC()
		return tx.PutStreamKey(&k)
	})
	if err != nil {
		return err
	}
	if k.Publishing {
		// The publisher's old key no longer exists: disconnect it; its room goes
		// LIVE_INACTIVE through the ordinary "publish stopped" (KEY_RESET).
		h.c.KickPublisher(k.ID, publish.StopKeyReset)
		if fresh, err := h.c.StreamKey(k.ID); err == nil {
			k = fresh // the state after the stop
		}
	}
	return ec.JSON(http.StatusOK, h.c.NewStreamKeyJSON(k))
}
