package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/storage"
)

// Field limits (seed 000 for customType/customData; Roomcast's own for the rest).
const (
	maxCustomTypeLen     = 50
	maxCustomDataItems   = 10
	maxCustomDataNameLen = 50
	maxCustomDataValLen  = 50
	maxTitleLen          = 200
	maxDescriptionLen    = 2000
	maxPasswordLen       = 100
	maxAppUserIDLen      = 128
	maxAppUserNameLen    = 200
	maxURLLen            = 2048
	maxAutoEndSeconds    = 7 * 24 * 3600
	maxPageSize          = 100
	defaultPageSize      = 10
	maxPage              = 1 << 20
)

// ErrRequestTimeout answers a request whose body did not arrive within
// HTTPGuard.BodyTimeout.
var ErrRequestTimeout = control.NewAPIError(http.StatusRequestTimeout, "REQUEST_TIMEOUT", "the request body did not arrive in time")

// decodeBody decodes the JSON request body into v: exactly one JSON value, within
// BodyLimit. Unknown fields are ignored (as Spring does); wrong types are refused.
func decodeBody(ec echo.Context, v any) error {
	data, err := readBody(ec)
	if err != nil {
		return err
	}
	return decodeJSON(data, v)
}

// readBody reads the whole request body (BodyLimit applies) or says why not.
func readBody(ec echo.Context) ([]byte, error) {
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

// decodeJSON is decodeBody on bytes (also used by the fuzz test).
func decodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return control.ErrInvalidRequest.WithMessage("a JSON request body is required")
	}
	if err := validUTF8(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return control.ErrInvalidRequest.WithMessage("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return control.ErrInvalidRequest.WithMessage("malformed JSON: data after the JSON value")
	}
	return nil
}

// decodeOptionalBody decodes a body that may be empty.
func decodeOptionalBody(ec echo.Context, v any) error {
	data, err := readBody(ec)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return decodeJSON(data, v)
}

// customDataIn decodes the customData object keeping its order; every value must be
// a string.
type customDataIn []storage.KeyValue

// UnmarshalJSON implements json.Unmarshaler.
func (d *customDataIn) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("customData must be an object of strings")
	}
	out := customDataIn{}
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

// createRoomRequest is the body of POST video-rooms (seeds 000 and 001).
type createRoomRequest struct {
	AppUserID   *string              `json:"appUserId"`
	Type        *string              `json:"type"`
	Title       *string              `json:"title"`
	Description *string              `json:"description"`
	AccessLevel *string              `json:"accessLevel"`
	ScheduledAt *string              `json:"scheduledAt"`
	CustomType  *string              `json:"customType"`
	CustomData  customDataIn         `json:"customData"`
	Password    *string              `json:"password"`
	AutoEnd     *control.AutoEndJSON `json:"autoEnd"`
	Webhook     *control.RoomWebhook `json:"webhook"`
}

// validate checks the request in the order of the seeds' error tables.
// needUser: the App API names the owner by appUserId.
func (r *createRoomRequest) validate(needUser bool) (control.RoomSpec, error) {
	var s control.RoomSpec
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
	if err := validateCustom(deref(r.CustomType), r.CustomData); err != nil {
		return s, err
	}
	s.CustomType, s.CustomData = deref(r.CustomType), r.CustomData
	s.Title, s.Description, s.Password = deref(r.Title), deref(r.Description), deref(r.Password)
	if err := checkLen("title", s.Title, maxTitleLen); err != nil {
		return s, err
	}
	if err := checkLen("description", s.Description, maxDescriptionLen); err != nil {
		return s, err
	}
	if err := checkLen("password", s.Password, maxPasswordLen); err != nil {
		return s, err
	}
	if r.AutoEnd != nil {
		if r.AutoEnd.InactiveSeconds < 1 || r.AutoEnd.InactiveSeconds > maxAutoEndSeconds {
			return s, control.ErrInvalidRequest.WithMessage("autoEnd.inactiveSeconds must be 1..%d", maxAutoEndSeconds)
		}
		s.AutoEnd = r.AutoEnd.InactiveSeconds
	}
	if r.Webhook != nil {
		cb := callbackRequest{URL: r.Webhook.EndPoint, Events: r.Webhook.Events}
		if err := cb.validate(); err != nil || deref(cb.URL) == "" {
			return s, control.ErrInvalidRequest.WithMessage("webhook.endPoint must be an absolute http or https URL and webhook.events known event names")
		}
		s.WebhookURL, s.WebhookEvents = *cb.URL, cb.Events
	}
	return s, nil
}

// validateSchedule parses scheduledAt (required for BROADCAST_RTMP).
func (r *createRoomRequest) validateSchedule(s *control.RoomSpec) error {
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

// validateCustom applies the seed 000 limits of customType and customData.
func validateCustom(customType string, data []storage.KeyValue) error {
	if utf8.RuneCountInString(customType) > maxCustomTypeLen {
		return control.ErrCustomTypeTooLong
	}
	if len(data) > maxCustomDataItems {
		return control.ErrCustomDataTooManyItems
	}
	for _, kv := range data {
		if kv.Name == "" || utf8.RuneCountInString(kv.Name) > maxCustomDataNameLen {
			return control.ErrCustomDataItemNameTooLong
		}
		if utf8.RuneCountInString(kv.Value) > maxCustomDataValLen {
			return control.ErrCustomDataItemValueTooLong
		}
	}
	return nil
}

// listQuery is the validated query of GET video-rooms.
type listQuery struct {
	MemberID    uint64
	Keyword     string
	State       control.VideoRoomState
	Type        control.VideoRoomType
	AccessLevel control.AccessLevel
	SortBy      control.SortBy
	Page        int
	PageSize    int
}

// parseListQuery validates the query parameters of a room list.
func parseListQuery(ec echo.Context) (listQuery, error) {
	q := listQuery{PageSize: defaultPageSize}
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
	if err := validUTF8String("query keyword", q.Keyword); err != nil {
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
		if q.Page, err = strconv.Atoi(v); err != nil || q.Page < 0 || q.Page > maxPage {
			return q, bad("page", errors.New("must be an integer 0.."+strconv.Itoa(maxPage)))
		}
	}
	if v := ec.QueryParam("pageSize"); v != "" {
		if q.PageSize, err = strconv.Atoi(v); err != nil || q.PageSize < 1 || q.PageSize > maxPageSize {
			return q, bad("pageSize", errors.New("must be an integer 1.."+strconv.Itoa(maxPageSize)))
		}
	}
	return q, nil
}

// pathID parses the numeric :id path parameter.
func pathID(ec echo.Context) (uint64, error) {
	id, err := strconv.ParseUint(ec.Param("id"), 10, 64)
	if err != nil || id == 0 {
		return 0, control.ErrVideoRoomNotFound.WithMessage("video room %q not found", ec.Param("id"))
	}
	return id, nil
}

// checkLen refuses a string longer than max characters.
func checkLen(field, v string, max int) error {
	if utf8.RuneCountInString(v) > max {
		return control.ErrInvalidRequest.WithMessage("%s exceeds %d characters", field, max)
	}
	return nil
}

// deref returns *p or "".
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
