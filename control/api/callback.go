package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/member"
	"github.com/roomcast/roomcast/storage"
)

// callbackSecretBytes is the entropy of a webhook signing secret.
const callbackSecretBytes = 32

// callbackJSON is the app's webhook configuration, secret included: only
// the app itself reads it.
type callbackJSON struct {
	URL    *string  `json:"url"`
	Events []string `json:"events"`
	Secret *string  `json:"secret"`
}

// onCallbackGet is GET /v2/apps/me/callback.
func (h *callbackHandlers) onCallbackGet(ec echo.Context) error {
	var a storage.App
	err := h.c.Store.View(func(tx *storage.Tx) error {
		var err error
		a, err = tx.App(appOf(ec).ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("read app: %w", err)
	}
	return ec.JSON(http.StatusOK, newCallbackJSON(a))
}

// onCallbackPut is PUT /v2/apps/me/callback: sets url and events; creates the signing
// secret on first use.
func (h *callbackHandlers) onCallbackPut(ec echo.Context) error {
	var req request.Callback
	if err := request.DecodeBody(ec, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	return h.updateApp(ec, func(a *storage.App) error {
		a.CallbackURL, a.CallbackEvents = *req.URL, req.Events
		if a.CallbackSecret != "" {
			return nil
		}
		var err error
		a.CallbackSecret, err = member.NewSecret(callbackSecretBytes)
		return err
	})
}

// onCallbackSecretRotate is POST /v2/apps/me/callback/secret: a new signing secret.
func (h *callbackHandlers) onCallbackSecretRotate(ec echo.Context) error {
	return h.updateApp(ec, func(a *storage.App) error {
		var err error
		a.CallbackSecret, err = member.NewSecret(callbackSecretBytes)
		return err
	})
}

// updateApp edits the authenticated app and answers with its callback settings.
func (h *callbackHandlers) updateApp(ec echo.Context, edit func(*storage.App) error) error {
	var a storage.App
	err := h.c.Store.Update(func(tx *storage.Tx) error {
		var err error
		if a, err = tx.App(appOf(ec).ID); err != nil {
			return fmt.Errorf("read app: %w", err)
		}
		if err := edit(&a); err != nil {
			return err
		}
		return tx.PutApp(&a)
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, newCallbackJSON(a))
}

// newCallbackJSON converts the app's webhook settings.
func newCallbackJSON(a storage.App) callbackJSON {
	ev := a.CallbackEvents
	if ev == nil {
		ev = []string{}
	}
	return callbackJSON{URL: control.Opt(a.CallbackURL), Events: ev, Secret: control.Opt(a.CallbackSecret)}
}
