package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/storage"
)

// errorBody is the JSON of every API error.
type errorBody struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
}

// httpErrorHandler is the echo HTTPErrorHandler: apiError values keep their status and
// code, echo's own errors (unknown route, method, body limit) are mapped, anything else
// is logged and answered 500.
func (s *Server) httpErrorHandler(err error, ec echo.Context) {
	if ec.Response().Committed {
		return
	}
	ae := s.toAPIError(err, ec)
	if ae.Status() == http.StatusUnauthorized {
		ec.Response().Header().Set("WWW-Authenticate", `Basic realm="roomcast"`)
	}
	var werr error
	if ec.Request().Method == http.MethodHead {
		werr = ec.NoContent(ae.Status())
	} else {
		werr = ec.JSON(ae.Status(), errorBody{ErrorCode: ae.Code(), Message: ae.Message()})
	}
	if werr != nil {
		s.Log.Debug("write error response", "err", werr)
	}
}

// toAPIError maps any handler error to an apiError.
func (s *Server) toAPIError(err error, ec echo.Context) control.APIError {
	var ae control.APIError
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return control.ErrNotFound
		case http.StatusMethodNotAllowed:
			return control.ErrMethodNotAllowed
		case http.StatusUnauthorized:
			return control.ErrUnauthorized
		case http.StatusRequestEntityTooLarge:
			return control.ErrInvalidRequest.WithMessage("request body exceeds %d bytes", s.BodyLimit)
		}
		if he.Code >= 400 && he.Code < 500 {
			return control.NewAPIError(he.Code, "INVALID_REQUEST", fmt.Sprint(he.Message))
		}
	}
	s.Log.Error("request failed", "method", ec.Request().Method, "route", ec.Path(),
		"uri", redactedURI(ec.Request()), "err", err)
	switch {
	case errors.Is(err, storage.ErrCorrupt):
		return control.ErrStorageCorrupt
	case errors.Is(err, storage.ErrFull):
		return control.ErrStorageFull
	}
	return control.ErrInternal
}

// asError is errors.As (kept short for switch cases).
func asError(err error, target any) bool { return errors.As(err, target) }
