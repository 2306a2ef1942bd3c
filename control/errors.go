package control

import (
	"fmt"
	"net/http"
)

// APIError is an API outcome with its HTTP status and seed error code. Handlers return
// it (possibly wrapped); httpErrorHandler writes it as {"errorCode","message"}.
// errors.Is matches two apiErrors by code, so a sentinel matches a copy carrying a
// more specific message (see withMessage).
type APIError struct {
	status  int
	code    string
	message string
}

// Error returns "CODE: message".
func (e APIError) Error() string { return e.code + ": " + e.message }

// Is reports whether target is an apiError with the same code.
func (e APIError) Is(target error) bool {
	t, ok := target.(APIError)
	return ok && t.code == e.code
}

// NewAPIError is an APIError with its HTTP status, error code and message.
func NewAPIError(status int, code, message string) APIError {
	return APIError{status: status, code: code, message: message}
}

// Message is the human-readable message of the error.
func (e APIError) Message() string { return e.message }

// Status is the HTTP status of the error.
func (e APIError) Status() int { return e.status }

// Code is the seed error code, e.g. "VIDEO_ROOM_NOT_FOUND".
func (e APIError) Code() string { return e.code }

// WithMessage returns a copy of e with a more specific message.
func (e APIError) WithMessage(format string, args ...any) APIError {
	e.message = fmt.Sprintf(format, args...)
	return e
}

// API errors. Codes and statuses are those of the Member and App API documents where they define one;
// the others are Roomcast's and documented in openapi.yaml.
var (
	ErrInvalidRequest      = APIError{http.StatusBadRequest, "INVALID_REQUEST", "the request is malformed"}
	ErrUnauthorized        = APIError{http.StatusUnauthorized, "UNAUTHORIZED", "missing or invalid credentials"}
	ErrNotFound            = APIError{http.StatusNotFound, "NOT_FOUND", "no such route"}
	ErrMethodNotAllowed    = APIError{http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "method not allowed"}
	ErrInternal            = APIError{http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal server error"}
	ErrMediaServiceFailure = APIError{http.StatusInternalServerError, "MEDIA_SERVICE_INTERNAL_SERVER_ERROR", "internal media service failure"}
	ErrRequestLocked       = APIError{http.StatusBadRequest, "REQUEST_LOCKED", "the same request is being processed; wait for its response"}
	ErrStorageCorrupt      = APIError{http.StatusInternalServerError, "STORAGE_CORRUPT", "the store is damaged; the operator must restore a backup"}
	ErrStorageFull         = APIError{http.StatusInsufficientStorage, "STORAGE_FULL", "storage full: nothing was changed"}

	ErrMemberNotFound    = APIError{http.StatusNotFound, "MEMBER_NOT_FOUND", "member not found"}
	ErrEmptyMemberUserID = APIError{http.StatusBadRequest, "EMPTY_MEMBER_APP_USER_ID", "appUserId is required"}
	ErrStreamKeyNotFound = APIError{http.StatusNotFound, "STREAM_KEY_NOT_FOUND", "stream key not found"}
	ErrInvalidMode       = APIError{http.StatusBadRequest, "INVALID_MODE", "mode must be CMAF, RTMP or RTMP_CMAF"}
	ErrAlreadyPublishing = APIError{http.StatusConflict, "STREAM_KEY_ALREADY_PUBLISHING", "the stream key is already publishing"}

	ErrVideoRoomNotFound          = APIError{http.StatusNotFound, "VIDEO_ROOM_NOT_FOUND", "video room not found"}
	ErrNotOperator                = APIError{http.StatusForbidden, "NOT_OPERATOR", "the cluster view is for the default app (the first app created) only"}
	ErrVideoRoomNotOwned          = APIError{http.StatusForbidden, "VIDEO_ROOM_NOT_OWNED", "the video room belongs to another member"}
	ErrVideoRoomTypeNotBroadcast  = APIError{http.StatusBadRequest, "VIDEO_ROOM_TYPE_NOT_BROADCAST_RTMP", "video room type is not BROADCAST_RTMP"}
	ErrVideoRoomStateNotScheduled = APIError{http.StatusBadRequest, "VIDEO_ROOM_STATE_NOT_SCHEDULED", "video room state is not SCHEDULED"}
	ErrVideoRoomStateNotLiveInact = APIError{http.StatusBadRequest, "VIDEO_ROOM_STATE_NOT_LIVE_INACTIVE", "video room state is not LIVE_INACTIVE"}
	ErrVideoRoomStateLive         = APIError{http.StatusBadRequest, "VIDEO_ROOM_STATE_LIVE", "video room is LIVE or LIVE_INACTIVE; end it first"}
	ErrVideoRoomNotLive           = APIError{http.StatusNotFound, "VIDEO_ROOM_NOT_LIVE", "video room is not live"}
	ErrVideoRoomPasswordMismatch  = APIError{http.StatusForbidden, "VIDEO_ROOM_PASSWORD_MISMATCH", "wrong video room password"}
	ErrStreamKeyStateNotActive    = APIError{http.StatusBadRequest, "STREAM_KEY_STATE_NOT_ACTIVE", "stream key state is not ACTIVE: start publishing first"}
	ErrStreamKeyStateNotInactLive = APIError{http.StatusBadRequest, "STREAM_KEY_STATE_NOT_INACTIVE_LIVE", "stream key state is not INACTIVE_LIVE: stop publishing first"}
	ErrEmptyVideoRoomAppUserID    = APIError{http.StatusBadRequest, "EMPTY_VIDEO_ROOM_APP_USER_ID", "appUserId is required"}
	ErrEmptyVideoRoomType         = APIError{http.StatusBadRequest, "EMPTY_VIDEO_ROOM_TYPE", "type is required"}
	ErrEmptyVideoRoomScheduledAt  = APIError{http.StatusBadRequest, "EMPTY_VIDEO_ROOM_SCHEDULED_AT", "scheduledAt is required for BROADCAST_RTMP"}
	ErrCustomTypeTooLong          = APIError{http.StatusBadRequest, "CUSTOM_TYPE_SIZE_UPPER_LIMIT_EXCEEDED", "customType exceeds 50 characters"}
	ErrCustomDataTooManyItems     = APIError{http.StatusBadRequest, "CUSTOM_DATA_ITEM_COUNT_UPPER_LIMIT_EXCEEDED", "customData has more than 10 items"}
	ErrCustomDataItemNameTooLong  = APIError{http.StatusBadRequest, "CUSTOM_DATA_ITEM_NAME_SIZE_UPPER_LIMIT_EXCEEDED", "a customData item name exceeds 50 characters"}
	ErrCustomDataItemValueTooLong = APIError{http.StatusBadRequest, "CUSTOM_DATA_ITEM_VALUE_SIZE_UPPER_LIMIT_EXCEEDED", "a customData item value exceeds 50 characters"}
)
