package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiError is a non-2xx answer of the App API, with Roomcast's {"errorCode","message"}.
type apiError struct {
	Method, Path string
	Status       int
	Code, Msg    string
}

func (e *apiError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s %s: HTTP %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Msg)
	}
	return fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
}

// apiClient calls Roomcast's App API (HTTP Basic apiKey:apiSecret, base /v2/apps/me).
type apiClient struct {
	base          string
	key, secret   string
	client        *http.Client
	timeout       time.Duration
	startAttempts int           // start-live retries while the key is not yet ACTIVE
	startRetry    time.Duration // delay between them
}

// call sends a JSON request and decodes a JSON answer into out (nil: discard).
func (a *apiClient) call(ctx context.Context, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+"/v2/apps/me"+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.SetBasicAuth(a.key, a.secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is Roomcast running at --api %s?)", method, path, err, a.base)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Method: method, Path: path, Status: resp.StatusCode}
		var eb struct{ ErrorCode, Message string }
		if json.Unmarshal(raw, &eb) == nil {
			e.Code, e.Msg = eb.ErrorCode, eb.Message
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// room is the part of the VideoRoom JSON the tool reads.
type room struct {
	ID             json.Number `json:"id"`
	UUID           string      `json:"uuid"`
	VideoRoomState string      `json:"videoRoomState"`
	LastSessionNo  int         `json:"lastSessionNo"`
	CmafHLSPlayURL *string     `json:"cmafHlsPlayUrl"`
	PlayURL        *string     `json:"playUrl"`
}

// hlsURL is the room's CMAF HLS play URL (playUrl when cmafHlsPlayUrl is absent).
func (r *room) hlsURL() string {
	for _, u := range []*string{r.CmafHLSPlayURL, r.PlayURL} {
		if u != nil && strings.HasSuffix(strings.SplitN(*u, "?", 2)[0], ".m3u8") {
			return *u
		}
	}
	return ""
}

// ensureMember upserts a member and returns its stream key secret.
func (a *apiClient) ensureMember(ctx context.Context, appUserID string) (string, error) {
	in := map[string]string{"appUserId": appUserID, "appUserName": appUserID}
	if err := a.call(ctx, http.MethodPost, "/members", in, nil); err != nil {
		return "", fmt.Errorf("create member: %w", err)
	}
	var sk struct {
		StreamKey string `json:"streamKey"`
	}
	if err := a.call(ctx, http.MethodGet, "/members/"+url.PathEscape(appUserID)+"/stream-key", nil, &sk); err != nil {
		return "", fmt.Errorf("read stream key: %w", err)
	}
	if sk.StreamKey == "" {
		return "", errors.New("read stream key: answer has no streamKey")
	}
	return sk.StreamKey, nil
}

// createRoom creates a SCHEDULED BROADCAST_RTMP room for the member.
func (a *apiClient) createRoom(ctx context.Context, appUserID string, i int) (*room, error) {
	in := map[string]string{
		"appUserId":   appUserID,
		"type":        "BROADCAST_RTMP",
		"title":       "roomcast-load " + strconv.Itoa(i),
		"description": "created by roomcast-load",
		"accessLevel": "PUBLIC",
		"scheduledAt": time.Now().UTC().Add(time.Minute).Format("2006-01-02T15:04:05.000Z"),
	}
	var r room
	if err := a.call(ctx, http.MethodPost, "/video-rooms", in, &r); err != nil {
		return nil, fmt.Errorf("create room: %w", err)
	}
	if r.ID == "" {
		return nil, errors.New("create room: answer has no id")
	}
	return &r, nil
}

// startRoom starts the room's broadcast, retrying while the server has not yet seen
// the publish (400 while the stream key is not ACTIVE), then reads the room back.
func (a *apiClient) startRoom(ctx context.Context, id json.Number) (*room, error) {
	path := "/video-rooms/" + id.String()
	var err error
	for attempt := 0; attempt < max(1, a.startAttempts); attempt++ {
		if attempt > 0 && !sleepCtx(ctx, a.startRetry) {
			return nil, ctx.Err()
		}
		var r room
		err = a.call(ctx, http.MethodPost, path+"/rtmp-broadcast/state/live", nil, &r)
		var ae *apiError
		if err == nil {
			return a.liveRoom(ctx, path, &r)
		}
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			break
		}
	}
	return nil, fmt.Errorf("start room %s: %w", id, err)
}

// liveRoom returns r when it already carries the HLS URL, else GETs the room.
func (a *apiClient) liveRoom(ctx context.Context, path string, r *room) (*room, error) {
	if r.hlsURL() != "" {
		return r, nil
	}
	var got room
	if err := a.call(ctx, http.MethodGet, path, nil, &got); err != nil {
		return nil, fmt.Errorf("get room: %w", err)
	}
	if got.hlsURL() == "" {
		return nil, fmt.Errorf("get room %s: state %s, no cmafHlsPlayUrl (was it published with mode=CMAF or RTMP_CMAF?)", path, got.VideoRoomState)
	}
	return &got, nil
}

// viewerToken logs a viewer member in and returns its streamingToken.
func (a *apiClient) viewerToken(ctx context.Context, appUserID string) (string, error) {
	var tok struct {
		StreamingToken string `json:"streamingToken"`
	}
	if err := a.call(ctx, http.MethodPost, "/members/"+url.PathEscape(appUserID)+"/tokens", map[string]any{}, &tok); err != nil {
		return "", fmt.Errorf("viewer token: %w", err)
	}
	if tok.StreamingToken == "" {
		return "", errors.New("viewer token: answer has no streamingToken")
	}
	return tok.StreamingToken, nil
}

// playURL adds streamingToken to the room's HLS URL.
func playURL(hls, token string) (string, error) {
	u, err := url.Parse(hls)
	if err != nil {
		return "", fmt.Errorf("cmafHlsPlayUrl %q: %w", hls, err)
	}
	q := u.Query()
	q.Set("streamingToken", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
