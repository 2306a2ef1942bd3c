package control

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/storage"
)

// apiError is an API outcome with its HTTP status and seed error code. Handlers return
// it (possibly wrapped); httpErrorHandler writes it as {"errorCode","message"}.
// errors.Is matches two apiErrors by code, so a sentinel matches a copy carrying a
// more specific message (see withMessage).
type apiError struct {
	status  int
	code    string
	message string
}

// Error returns "CODE: message".
func (e apiError) Error() string { return e.code + ": " + e.message }

// Is reports whether target is an apiError with the same code.
func (e apiError) Is(target error) bool {
	t, ok := target.(apiError)
	return ok && t.code == e.code
}

// Status is the HTTP status of the error.
func (e apiError) Status() int { return e.status }

// Code is the seed error code, e.g. "VIDEO_ROOM_NOT_FOUND".
func (e apiError) Code() string { return e.code }

// withMessage returns a copy of e with a more specific message.
func (e apiError) withMessage(format string, args ...any) apiError {
	e.message = fmt.Sprintf(format, args...)
	return e
}

// API errors. Codes and statuses are those of seeds 000 and 001 where they define one;
// the others are Roomcast's and documented in openapi.yaml.
var (
	ErrInvalidRequest      = apiError{http.StatusBadRequest, "INVALID_REQUEST", "the request is malformed"}
	ErrUnauthorized        = apiError{http.StatusUnauthorized, "UNAUTHORIZED", "missing or invalid credentials"}
	ErrForbidden           = apiError{http.StatusForbidden, "FORBIDDEN", "not allowed"}
	ErrNotFound            = apiError{http.StatusNotFound, "NOT_FOUND", "no such route"}
	ErrMethodNotAllowed    = apiError{http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "method not allowed"}
	ErrInternal            = apiError{http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal server error"}
	ErrMediaServiceFailure = apiError{http.StatusInternalServerError, "MEDIA_SERVICE_INTERNAL_SERVER_ERROR", "internal media service failure"}
	ErrRequestLocked       = apiError{http.StatusBadRequest, "REQUEST_LOCKED", "the same request is being processed; wait for its response"}
	ErrStorageCorrupt      = apiError{http.StatusInternalServerError, "STORAGE_CORRUPT", "the store is damaged; the operator must restore a backup"}
	ErrStorageFull         = apiError{http.StatusInsufficientStorage, "STORAGE_FULL", "storage full: nothing was changed"}

	ErrMemberNotFound      = apiError{http.StatusNotFound, "MEMBER_NOT_FOUND", "member not found"}
	ErrEmptyMemberUserID   = apiError{http.StatusBadRequest, "EMPTY_MEMBER_APP_USER_ID", "appUserId is required"}
	ErrStreamKeyNotFound   = apiError{http.StatusNotFound, "STREAM_KEY_NOT_FOUND", "stream key not found"}
	ErrStreamKeyPublishing = apiError{http.StatusBadRequest, "STREAM_KEY_PUBLISHING", "the stream key is publishing; stop the stream first"}
	ErrInvalidMode         = apiError{http.StatusBadRequest, "INVALID_MODE", "mode must be CMAF, RTMP or RTMP_CMAF"}
	ErrAlreadyPublishing   = apiError{http.StatusConflict, "STREAM_KEY_ALREADY_PUBLISHING", "the stream key is already publishing"}

	ErrVideoRoomNotFound          = apiError{http.StatusNotFound, "VIDEO_ROOM_NOT_FOUND", "video room not found"}
	ErrVideoRoomNotOwned          = apiError{http.StatusForbidden, "VIDEO_ROOM_NOT_OWNED", "the video room belongs to another member"}
	ErrVideoRoomTypeNotBroadcast  = apiError{http.StatusBadRequest, "VIDEO_ROOM_TYPE_NOT_BROADCAST_RTMP", "video room type is not BROADCAST_RTMP"}
	ErrVideoRoomStateNotScheduled = apiError{http.StatusBadRequest, "VIDEO_ROOM_STATE_NOT_SCHEDULED", "video room state is not SCHEDULED"}
	ErrVideoRoomStateNotLiveInact = apiError{http.StatusBadRequest, "VIDEO_ROOM_STATE_NOT_LIVE_INACTIVE", "video room state is not LIVE_INACTIVE"}
	ErrVideoRoomStateLive         = apiError{http.StatusBadRequest, "VIDEO_ROOM_STATE_LIVE", "video room is LIVE or LIVE_INACTIVE; end it first"}
	ErrVideoRoomNotLive           = apiError{http.StatusNotFound, "VIDEO_ROOM_NOT_LIVE", "video room is not live"}
	ErrVideoRoomPasswordMismatch  = apiError{http.StatusForbidden, "VIDEO_ROOM_PASSWORD_MISMATCH", "wrong video room password"}
	ErrStreamKeyStateNotActive    = apiError{http.StatusBadRequest, "STREAM_KEY_STATE_NOT_ACTIVE", "stream key state is not ACTIVE: start publishing first"}
	ErrStreamKeyStateNotInactLive = apiError{http.StatusBadRequest, "STREAM_KEY_STATE_NOT_INACTIVE_LIVE", "stream key state is not INACTIVE_LIVE: stop publishing first"}
	ErrEmptyVideoRoomAppUserID    = apiError{http.StatusBadRequest, "EMPTY_VIDEO_ROOM_APP_USER_ID", "appUserId is required"}
	ErrEmptyVideoRoomType         = apiError{http.StatusBadRequest, "EMPTY_VIDEO_ROOM_TYPE", "type is required"}
	ErrEmptyVideoRoomScheduledAt  = apiError{http.StatusBadRequest, "EMPTY_VIDEO_ROOM_SCHEDULED_AT", "scheduledAt is required for BROADCAST_RTMP"}
	ErrCustomTypeTooLong          = apiError{http.StatusBadRequest, "CUSTOM_TYPE_SIZE_UPPER_LIMIT_EXCEEDED", "customType exceeds 50 characters"}
	ErrCustomDataTooManyItems     = apiError{http.StatusBadRequest, "CUSTOM_DATA_ITEM_COUNT_UPPER_LIMIT_EXCEEDED", "customData has more than 10 items"}
	ErrCustomDataItemNameTooLong  = apiError{http.StatusBadRequest, "CUSTOM_DATA_ITEM_NAME_SIZE_UPPER_LIMIT_EXCEEDED", "a customData item name exceeds 50 characters"}
	ErrCustomDataItemValueTooLong = apiError{http.StatusBadRequest, "CUSTOM_DATA_ITEM_VALUE_SIZE_UPPER_LIMIT_EXCEEDED", "a customData item value exceeds 50 characters"}
)

// errorBody is the JSON of every API error (SPEC §5).
type errorBody struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
}

// httpErrorHandler is the echo HTTPErrorHandler: apiError values keep their status and
// code, echo's own errors (unknown route, method, body limit) are mapped, anything else
// is logged and answered 500.
func (c *Control) httpErrorHandler(err error, ec echo.Context) {
	if ec.Response().Committed {
		return
	}
	ae := c.toAPIError(err, ec)
	if ae.status == http.StatusUnauthorized {
		ec.Response().Header().Set("WWW-Authenticate", `Basic realm="roomcast"`)
	}
	var werr error
	if ec.Request().Method == http.MethodHead {
		werr = ec.NoContent(ae.status)
	} else {
		werr = ec.JSON(ae.status, errorBody{ErrorCode: ae.code, Message: ae.message})
	}
	if werr != nil {
		c.Log.Debug("write error response", "err", werr)
	}
}

// toAPIError maps any handler error to an apiError.
func (c *Control) toAPIError(err error, ec echo.Context) apiError {
	var ae apiError
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return ErrNotFound
		case http.StatusMethodNotAllowed:
			return ErrMethodNotAllowed
		case http.StatusUnauthorized:
			return ErrUnauthorized
		case http.StatusRequestEntityTooLarge:
			return ErrInvalidRequest.withMessage("request body exceeds %d bytes", c.BodyLimit)
		}
		if he.Code >= 400 && he.Code < 500 {
			return apiError{he.Code, "INVALID_REQUEST", fmt.Sprint(he.Message)}
		}
	}
	c.Log.Error("request failed", "method", ec.Request().Method, "route", ec.Path(), "err", err)
	switch {
	case errors.Is(err, storage.ErrCorrupt):
		return ErrStorageCorrupt
	case errors.Is(err, storage.ErrFull):
		return ErrStorageFull
	}
	return ErrInternal
}

// asError is errors.As (kept short for switch cases).
func asError(err error, target any) bool { return errors.As(err, target) }
