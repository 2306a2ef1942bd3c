package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// Field limits (for customType/customData; Roomcast's own for the rest).
const (
	MaxCustomTypeLen     = 50
	MaxCustomDataItems   = 10
	MaxCustomDataNameLen = 50
	MaxCustomDataValLen  = 50
	MaxTitleLen          = 200
	MaxDescriptionLen    = 2000
	MaxPasswordLen       = 100
	MaxAppUserIDLen      = 128
	MaxAppUserNameLen    = 200
	MaxURLLen            = 2048
	MaxAutoEndSeconds    = 7 * 24 * 3600
	MaxAutoCloseMinutes  = 7 * 24 * 60
	// DefaultAutoCloseMinutes is autoCloseConfig.duration when absent (480, as
	// the room creation document says).
	DefaultAutoCloseMinutes = 480
	MaxPageSize             = 100
	DefaultPageSize         = 10
	MaxPage                 = 1 << 20
)

// ErrRequestTimeout answers a request whose body did not arrive within
// HTTPGuard.BodyTimeout.
var ErrRequestTimeout = control.NewAPIError(http.StatusRequestTimeout, "REQUEST_TIMEOUT", "the request body did not arrive in time")

// DecodeBody decodes the JSON request body into v: exactly one JSON value, within
// BodyLimit. Unknown fields, at any depth, are refused with their path (strict.go);
// wrong types are refused.
func DecodeBody(ec echo.Context, v any) error {
	data, err := ReadBody(ec)
	if err != nil {
		return err
	}
	return DecodeJSON(data, v)
}

// ReadBody reads the whole request body (BodyLimit applies) or says why not.
func ReadBody(ec echo.Context) ([]byte, error) {
	data, err := io.ReadAll(ec.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, control.ErrInvalidRequest.WithMessage("request body exceeds %d bytes", mbe.Limit)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// HTTPGuard.BodyTimeout: the connection cannot be reused.
			ec.Response().Header().Set("Connection", "close")
			return nil, ErrRequestTimeout
		}
		return nil, control.ErrInvalidRequest.WithMessage("read request body: %v", err)
	}
	return data, nil
}

// DecodeJSON is DecodeBody on bytes (also used by the fuzz test).
func DecodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return control.ErrInvalidRequest.WithMessage("a JSON request body is required")
	}
	if err := ValidUTF8(data); err != nil {
		return err
	}
	if u, ok := asUnknownField(checkFields(data, reflect.TypeOf(v))); ok {
		return control.ErrInvalidRequest.WithMessage("%s", u.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // checkFields found none; this only backs it up
	if err := dec.Decode(v); err != nil {
		return control.ErrInvalidRequest.WithMessage("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return control.ErrInvalidRequest.WithMessage("malformed JSON: data after the JSON value")
	}
	return nil
}

// DecodeOptionalBody decodes a body that may be empty.
func DecodeOptionalBody(ec echo.Context, v any) error {
	data, err := ReadBody(ec)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return DecodeJSON(data, v)
}

// NoBody reads the body of an endpoint that takes none: empty or {}; any member
// is an unknown field, any other JSON value a malformed body.
func NoBody(ec echo.Context) error {
	var none struct{}
	return DecodeOptionalBody(ec, &none)
}

// CustomDataIn decodes the customData object keeping its order; every value must be
// a string.
type CustomDataIn []storage.KeyValue

// UnmarshalJSON implements json.Unmarshaler.
func (d *CustomDataIn) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("customData must be an object of strings")
	}
	out := CustomDataIn{}
	seen := map[string]bool{}
	for dec.More() {
		ktok, err := dec.Token()
		if err != nil {
			return err
		}
		vtok, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := ktok.(string)
		v, ok := vtok.(string)
		if !ok {
			return errors.New("customData values must be strings")
		}
		if seen[k] {
			return errors.New("customData has a duplicate name")
		}
		seen[k] = true
		out = append(out, storage.KeyValue{Name: k, Value: v})
	}
	*d = out
	return nil
}

// CreateRoom is the body of POST video-rooms.
type CreateRoom struct {
	AppUserID   *string              `json:"appUserId"`
	Type        *string              `json:"type"`
	Title       *string              `json:"title"`
	Description *string              `json:"description"`
	AccessLevel *string              `json:"accessLevel"`
	ScheduledAt *string              `json:"scheduledAt"`
	CustomType  *string              `json:"customType"`
	CustomData  CustomDataIn         `json:"customData"`
	Password    *string              `json:"password"`
	AutoEnd     *control.AutoEndJSON `json:"autoEnd"`
	Webhook     *control.RoomWebhook `json:"webhook"`
	// AutoClose is autoCloseConfig: {"type": "session-ends" |
	// "session-end-and-deactivate", "duration": minutes (default 480)}.
	AutoClose *AutoCloseIn `json:"autoCloseConfig"`
}

// AutoCloseIn is the autoCloseConfig object of room creation.
type AutoCloseIn struct {
	Type     *string `json:"type"`
	Duration *int    `json:"duration"`
}

// Validate checks the request in the order of the seeds' error tables.
// needUser: the App API names the owner by appUserId; the Member API's owner is
// the member, and an appUserId there is an unknown field.
func (r *CreateRoom) Validate(needUser bool) (control.RoomSpec, error) {
	var s control.RoomSpec
	if !needUser && r.AppUserID != nil {
		return s, control.ErrInvalidRequest.WithMessage("%s", (&unknownFieldError{path: "appUserId"}).Error())
	}
	if needUser {
		if r.AppUserID == nil || *r.AppUserID == "" {
			return s, control.ErrEmptyVideoRoomAppUserID
		}
		s.AppUserID = *r.AppUserID
	}
	if r.Type == nil || *r.Type == "" {
		return s, control.ErrEmptyVideoRoomType
	}
	t, err := control.ParseVideoRoomType(*r.Type)
	if err != nil {
		return s, control.ErrInvalidRequest.WithMessage("%v", err)
	}
	s.Type = t
	if err := r.validateSchedule(&s); err != nil {
		return s, err
	}
	s.AccessLevel = control.AccessLevelPublic
	if r.AccessLevel != nil {
		if s.AccessLevel, err = control.ParseAccessLevel(*r.AccessLevel); err != nil {
			return s, control.ErrInvalidRequest.WithMessage("%v", err)
		}
	}
	if err := ValidateCustom(Deref(r.CustomType), r.CustomData); err != nil {
		return s, err
	}
	s.CustomType, s.CustomData = Deref(r.CustomType), r.CustomData
	s.Title, s.Description, s.Password = Deref(r.Title), Deref(r.Description), Deref(r.Password)
	if err := CheckLen("title", s.Title, MaxTitleLen); err != nil {
		return s, err
	}
	if err := CheckLen("description", s.Description, MaxDescriptionLen); err != nil {
		return s, err
	}
	if err := CheckLen("password", s.Password, MaxPasswordLen); err != nil {
		return s, err
	}
	if r.AutoEnd != nil {
		if r.AutoEnd.InactiveSeconds < 1 || r.AutoEnd.InactiveSeconds > MaxAutoEndSeconds {
			return s, control.ErrInvalidRequest.WithMessage("autoEnd.inactiveSeconds must be 1..%d", MaxAutoEndSeconds)
		}
		s.AutoEnd = r.AutoEnd.InactiveSeconds
	}
	if r.AutoClose != nil {
		t := Deref(r.AutoClose.Type)
		if !control.ValidAutoCloseType(t) {
			return s, control.ErrInvalidRequest.WithMessage("autoCloseConfig.type must be %q or %q",
				control.AutoCloseSessionEnds, control.AutoCloseSessionEndAndDeactivate)
		}
		minutes := DefaultAutoCloseMinutes
		if r.AutoClose.Duration != nil {
			minutes = *r.AutoClose.Duration
		}
		if minutes < 1 || minutes > MaxAutoCloseMinutes {
			return s, control.ErrInvalidRequest.WithMessage("autoCloseConfig.duration must be 1..%d minutes", MaxAutoCloseMinutes)
		}
		s.AutoCloseType, s.AutoCloseMinutes = t, minutes
	}
	if r.Webhook != nil {
		cb := Callback{URL: r.Webhook.EndPoint, Events: r.Webhook.Events}
		if err := cb.Validate(); err != nil || Deref(cb.URL) == "" {
			return s, control.ErrInvalidRequest.WithMessage("webhook.endPoint must be an absolute http or https URL and webhook.events known event names")
		}
		s.WebhookURL, s.WebhookEvents = *cb.URL, cb.Events
	}
	return s, nil
}

// validateSchedule parses scheduledAt (required for BROADCAST_RTMP).
func (r *CreateRoom) validateSchedule(s *control.RoomSpec) error {
	if r.ScheduledAt == nil || *r.ScheduledAt == "" {
		if s.Type == control.VideoRoomTypeBroadcastRTMP {
			return control.ErrEmptyVideoRoomScheduledAt
		}
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *r.ScheduledAt)
	if err != nil {
		return control.ErrInvalidRequest.WithMessage("scheduledAt must be an RFC 3339 date-time, got %q", *r.ScheduledAt)
	}
	s.ScheduledAt = t.UTC()
	return nil
}

// ValidateCustom applies the Member API limits of customType and customData.
func ValidateCustom(customType string, data []storage.KeyValue) error {
	if utf8.RuneCountInString(customType) > MaxCustomTypeLen {
		return control.ErrCustomTypeTooLong
	}
	if len(data) > MaxCustomDataItems {
		return control.ErrCustomDataTooManyItems
	}
	for _, kv := range data {
		if kv.Name == "" || utf8.RuneCountInString(kv.Name) > MaxCustomDataNameLen {
			return control.ErrCustomDataItemNameTooLong
		}
		if utf8.RuneCountInString(kv.Value) > MaxCustomDataValLen {
			return control.ErrCustomDataItemValueTooLong
		}
	}
	return nil
}

// ListQuery is the validated query of GET video-rooms.
type ListQuery struct {
	MemberID    uint64
	Keyword     string
	State       control.VideoRoomState
	Type        control.VideoRoomType
	AccessLevel control.AccessLevel
	SortBy      control.SortBy
	Page        int
	PageSize    int
}

// ParseListQuery validates the query parameters of a room list.
func ParseListQuery(ec echo.Context) (ListQuery, error) {
	q := ListQuery{PageSize: DefaultPageSize}
	var err error
	bad := func(name string, err error) error {
		return control.ErrInvalidRequest.WithMessage("query %s: %v", name, err)
	}
	if v := ec.QueryParam("memberId"); v != "" {
		if q.MemberID, err = strconv.ParseUint(v, 10, 64); err != nil || q.MemberID == 0 {
			return q, bad("memberId", errors.New("must be a positive integer"))
		}
	}
	q.Keyword = ec.QueryParam("keyword")
	if err := ValidUTF8String("query keyword", q.Keyword); err != nil {
		return q, err
	}
	if v := ec.QueryParam("videoRoomState"); v != "" {
		if q.State, err = control.ParseVideoRoomState(v); err != nil {
			return q, bad("videoRoomState", err)
		}
	}
	if v := ec.QueryParam("type"); v != "" {
		if q.Type, err = control.ParseVideoRoomType(v); err != nil {
			return q, bad("type", err)
		}
	}
	if v := ec.QueryParam("accessLevel"); v != "" {
		if q.AccessLevel, err = control.ParseAccessLevel(v); err != nil {
			return q, bad("accessLevel", err)
		}
	}
	if q.SortBy, err = control.ParseSortBy(ec.QueryParam("sortBy")); err != nil {
		return q, bad("sortBy", err)
	}
	if v := ec.QueryParam("page"); v != "" {
		if q.Page, err = strconv.Atoi(v); err != nil || q.Page < 0 || q.Page > MaxPage {
			return q, bad("page", errors.New("must be an integer 0.."+strconv.Itoa(MaxPage)))
		}
	}
	if v := ec.QueryParam("pageSize"); v != "" {
		if q.PageSize, err = strconv.Atoi(v); err != nil || q.PageSize < 1 || q.PageSize > MaxPageSize {
			return q, bad("pageSize", errors.New("must be an integer 1.."+strconv.Itoa(MaxPageSize)))
		}
	}
	return q, nil
}

// PathID parses the numeric :id path parameter.
func PathID(ec echo.Context) (uint64, error) {
	id, err := strconv.ParseUint(ec.Param("id"), 10, 64)
	if err != nil || id == 0 {
		return 0, control.ErrVideoRoomNotFound.WithMessage("video room %q not found", ec.Param("id"))
	}
	return id, nil
}

// CheckLen refuses a string longer than max characters.
func CheckLen(field, v string, max int) error {
	if utf8.RuneCountInString(v) > max {
		return control.ErrInvalidRequest.WithMessage("%s exceeds %d characters", field, max)
	}
	return nil
}

// Deref returns *p or "".
func Deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Callback is the body of PUT /v2/apps/me/callback.
type Callback struct {
	URL    *string  `json:"url"`
	Events []string `json:"events"`
}

// validate checks the callback URL (absolute http/https, or "" to disable) and the
// event names.
func (r *Callback) Validate() error {
	if r.URL == nil {
		return control.ErrInvalidRequest.WithMessage("url is required (\"\" disables webhooks)")
	}
	if *r.URL != "" {
		u, err := url.Parse(*r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(*r.URL) > MaxURLLen {
			return control.ErrInvalidRequest.WithMessage("url must be an absolute http or https URL")
		}
	}
	for _, e := range r.Events {
		if !events.Known(e) {
			return control.ErrInvalidRequest.WithMessage("unknown event %q", e)
		}
	}
	return nil
}
