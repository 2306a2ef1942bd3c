package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/internal/testclock"
	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// recorder is an Emitter and hook sink that remembers everything.
type recorder struct {
	mu     sync.Mutex
	events []events.Event
	lives  []control.SessionInfo
	ended  []string
}

func (r *recorder) Emit(ev events.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		out = append(out, ev.Name)
	}
	return out
}

func (r *recorder) last() events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[len(r.events)-1]
}

// env is a running control plane: real bbolt store, real HTTP server on 127.0.0.1.
type env struct {
	t     testing.TB
	store *storage.Store
	c     *control.Control
	api   *Server
	srv   *httptest.Server
	clock *testclock.Clock
	rec   *recorder
	reg   *prometheus.Registry
}

// newEnv starts a server over store (a fresh one when nil).
func newEnv(t testing.TB, store *storage.Store) *env {
	t.Helper()
	return newEnvWith(t, store, nil)
}

// newEnvWith is newEnv with mod applied to the Control before Initialize.
func newEnvWith(t testing.TB, store *storage.Store, mod func(*control.Control)) *env {
	t.Helper()
	if store == nil {
		store = storagetest.Open(t)
	}
	e := &env{t: t, store: store, clock: testclock.New(time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)),
		rec: &recorder{}, reg: prometheus.NewRegistry()}
	e.c = &control.Control{
		Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublicHTTPURL: "http://media.test", PublicRTMPURL: "rtmp://media.test:1935",
		Now: e.clock.Now, Events: e.rec,
		OnSessionLive: func(s control.SessionInfo) {
			e.rec.mu.Lock()
			e.rec.lives = append(e.rec.lives, s)
			e.rec.mu.Unlock()
		},
		OnRoomEnded: func(uuid string) {
			e.rec.mu.Lock()
			e.rec.ended = append(e.rec.ended, uuid)
			e.rec.mu.Unlock()
		},
	}
	if mod != nil {
		mod(e.c)
	}
	if err := e.c.Initialize(); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	e.api = &Server{Control: e.c, Registry: e.reg}
	if err := e.api.Initialize(); err != nil {
		e.c.Close()
		t.Fatalf("Initialize API: %v", err)
	}
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		e.c.Close()
	})
	return e
}

// auth is an Authorization header value.
type auth string

func basic(creds control.Credentials) auth {
	return auth("Basic " + base64.StdEncoding.EncodeToString([]byte(creds.APIKey+":"+creds.APISecret)))
}

func bearer(token string) auth { return auth("Bearer " + token) }

// resp is a decoded HTTP answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r resp) JSON() map[string]any {
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		panic("body is not a JSON object: " + string(r.Body))
	}
	return m
}

// Code is the errorCode of an error body.
func (r resp) Code() string {
	var b errorBody
	_ = json.Unmarshal(r.Body, &b)
	return b.ErrorCode
}

// do sends a request; body is marshalled unless it is a string or []byte.
func (e *env) do(method, path string, a auth, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if a != "" {
		req.Header.Set("Authorization", string(a))
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path string, a auth, body any) resp {
	e.t.Helper()
	r := e.do(method, path, a, body)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// fail sends a request and checks the error status and code.
func (e *env) fail(status int, code, method, path string, a auth, body any) {
	e.t.Helper()
	r := e.do(method, path, a, body)
	if r.Status != status || r.Code() != code {
		e.t.Fatalf("%s %s: got %d %q, want %d %q: %s", method, path, r.Status, r.Code(), status, code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s: error Content-Type %q", method, path, ct)
	}
}

// newApp creates an app and returns its Basic auth.
func (e *env) newApp(name string) (control.Credentials, auth) {
	e.t.Helper()
	creds, err := e.c.CreateApp(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return creds, basic(creds)
}

// testMember is a created member with its tokens and stream key.
type testMember struct {
	ID        uint64
	AppUserID string
	Access    string
	Streaming string
	Key       string // stream key secret
	KeyID     uint64
}

// newMember upserts a member, logs it in and reads its stream key.
func (e *env) newMember(app auth, appUserID string) testMember {
	e.t.Helper()
	m := e.must(http.StatusCreated, "POST", "/v2/apps/me/members", app,
		map[string]any{"appUserId": appUserID, "appUserName": "name-" + appUserID}).JSON()
	tok := e.must(http.StatusOK, "POST", "/v2/apps/me/members/"+appUserID+"/tokens", app, nil).JSON()
	key := e.must(http.StatusOK, "GET", "/v2/apps/me/members/"+appUserID+"/stream-key", app, nil).JSON()
	return testMember{ID: uint64(m["id"].(float64)), AppUserID: appUserID,
		Access: tok["accessToken"].(string), Streaming: tok["streamingToken"].(string),
		Key: key["streamKey"].(string), KeyID: uint64(key["id"].(float64))}
}

// newRoom creates a BROADCAST_RTMP room through the App API.
func (e *env) newRoom(app auth, appUserID, title string) map[string]any {
	e.t.Helper()
	return e.must(http.StatusCreated, "POST", "/v2/apps/me/video-rooms", app, map[string]any{
		"appUserId": appUserID, "type": "BROADCAST_RTMP", "title": title,
		"scheduledAt": "2025-03-01T13:00:00.5Z",
	}).JSON()
}

// roomPath is the App API path of a room.
func roomPath(room map[string]any) string {
	return "/v2/apps/me/video-rooms/" + idString(room["id"])
}

// idString renders a JSON number id.
func idString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// storageTx and storageEvent shorten test signatures.
type (
	storageTx     = storage.Tx
	storageEvent  = storage.Event
	storageMember = storage.Member
)

// decodeMap decodes a JSON object.
func decodeMap(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

// contains reports whether raw contains s.
func contains(raw []byte, s string) bool { return bytes.Contains(raw, []byte(s)) }
