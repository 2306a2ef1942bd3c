package events_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// TestMain fails the run when a test leaves goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quiet is a logger that drops everything.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a running control plane with a Broker over a bbolt file in dir.
type env struct {
	t      testing.TB
	dir    string
	store  *storage.Store
	ctl    *control.Control
	broker *events.Broker
	srv    *httptest.Server
}

// fastRetries makes webhook retries quick for tests.
func fastRetries(b *events.Broker) {
	b.RetryBase, b.RetryMax, b.PollInterval = 20*time.Millisecond, 200*time.Millisecond, 50*time.Millisecond
	b.AttemptTimeout = 2 * time.Second
}

// start opens the store in dir (a new temp dir when ""), the Control and the
// Broker (tune edits its config) and serves the API on 127.0.0.1; t.Cleanup stops
// it.
func start(t testing.TB, dir string, tune func(*events.Broker)) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	store, err := storage.Open(filepath.Join(dir, "roomcast.db"), storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	e := startOn(t, dir, store, tune)
	t.Cleanup(e.stop)
	return e
}

// startOn is start over an open store; the caller stops it.
func startOn(t testing.TB, dir string, store *storage.Store, tune func(*events.Broker)) *env {
	t.Helper()
	e := &env{t: t, dir: dir, store: store}
	e.broker = &events.Broker{Store: store, Log: quiet}
	fastRetries(e.broker)
	if tune != nil {
		tune(e.broker)
	}
	e.ctl = &control.Control{Store: store, Log: quiet, PublicHTTPURL: "http://media.test",
		Events: e.broker}
	e.broker.Channels = e.ctl
	if err := e.ctl.Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := e.broker.Initialize(); err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{Control: e.ctl, EventSource: e.broker}
	if err := srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(srv.Handler())
	return e
}

// listen opens a loopback listener.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// stop closes everything in cmd's order (idempotent).
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	e.broker.Close()
	e.srv.CloseClientConnections()
	e.srv.Close()
	e.ctl.Close()
	if err := e.store.Close(); err != nil {
		e.t.Error(err)
	}
	e.srv = nil
}

// app is an app's credentials with its Basic header.
type app struct {
	control.Credentials
	auth string
}

func (e *env) newApp(name string) app {
	e.t.Helper()
	c, err := e.ctl.CreateApp(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return app{c, "Basic " + base64.StdEncoding.EncodeToString([]byte(c.APIKey+":"+c.APISecret))}
}

// call sends a JSON request and returns the status and body.
func (e *env) call(method, path, auth string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// must calls and fails unless the status is want; it decodes the JSON answer.
func (e *env) must(want int, method, path, auth string, body any) map[string]any {
	e.t.Helper()
	st, data := e.call(method, path, auth, body)
	if st != want {
		e.t.Fatalf("%s %s: %d, want %d: %s", method, path, st, want, data)
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

// member is a logged-in member with its stream key.
type member struct {
	ID     uint64
	UserID string
	Access string
	Key    string
	KeyID  uint64
}

func (e *env) newMember(a app, userID string) member {
	e.t.Helper()
	m := e.must(201, "POST", "/v2/apps/me/members", a.auth, map[string]any{"appUserId": userID})
	tok := e.must(200, "POST", "/v2/apps/me/members/"+userID+"/tokens", a.auth, nil)
	key := e.must(200, "GET", "/v2/apps/me/members/"+userID+"/stream-key", a.auth, nil)
	return member{ID: uint64(m["id"].(float64)), UserID: userID, Access: tok["accessToken"].(string),
		Key: key["streamKey"].(string), KeyID: uint64(key["id"].(float64))}
}

// newRoom creates a BROADCAST_RTMP room of host with extra fields and returns its id.
func (e *env) newRoom(a app, host member, extra map[string]any) uint64 {
	e.t.Helper()
	body := map[string]any{"appUserId": host.UserID, "type": "BROADCAST_RTMP", "title": "t",
		"scheduledAt": "2030-01-01T00:00:00Z"}
	for k, v := range extra {
		body[k] = v
	}
	r := e.must(201, "POST", "/v2/apps/me/video-rooms", a.auth, body)
	return uint64(r["id"].(float64))
}

func roomPath(id uint64) string { return "/v2/apps/me/video-rooms/" + strconv.FormatUint(id, 10) }

// publish starts a publish of m's key (ingest's seam).
func (e *env) publish(m member) {
	e.t.Helper()
	if _, err := e.ctl.PublishStarted(context.Background(), m.Key, "CMAF"); err != nil {
		e.t.Fatal(err)
	}
}

// unpublish stops it with reason.
func (e *env) unpublish(m member, reason string) {
	e.t.Helper()
	if err := e.ctl.PublishStopped(context.Background(), m.KeyID, reason); err != nil {
		e.t.Fatal(err)
	}
}

// broadcast drives a drop-and-resume broadcast of room: LIVE, LIVE_INACTIVE,
// LIVE, LIVE_INACTIVE, ENDED.
func (e *env) broadcast(a app, host member, room uint64) {
	e.t.Helper()
	e.publish(host)
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", a.auth, nil)
	e.unpublish(host, "CONNECTION_ERROR")
	e.publish(host)
	e.unpublish(host, "CLIENT_UNPUBLISH")
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/ended", a.auth, nil)
}

// outboxRooms lists the RoomID of each outbox event after seq, in outboxNames'
// order (0: an event of no room, such as publish_started of a key not yet bound).
func (e *env) outboxRooms(after uint64) []uint64 {
	e.t.Helper()
	var out []uint64
	err := e.store.View(func(tx *storage.Tx) error {
		return tx.ForEachEventAfter(after, func(rec storage.Event) (bool, error) {
			out = append(out, rec.RoomID)
			return true, nil
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// outboxNames lists the outbox as "name" or "name:reason" for publish_stopped.
func (e *env) outboxNames(after uint64) []string {
	e.t.Helper()
	var out []string
	err := e.store.View(func(tx *storage.Tx) error {
		return tx.ForEachEventAfter(after, func(rec storage.Event) (bool, error) {
			ev, err := events.DecodeEvent(rec)
			if err != nil {
				return false, err
			}
			n := ev.Name
			var wh struct {
				Payload struct {
					Reason string `json:"reason"`
				} `json:"payload"`
			}
			_ = json.Unmarshal(ev.Webhook, &wh)
			if wh.Payload.Reason != "" {
				n += ":" + wh.Payload.Reason
			}
			out = append(out, n)
			return true, nil
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// hook is a received webhook request.
type hook struct {
	EventID   string
	Signature string
	Body      []byte
	Event     string
	RoomID    uint64
	Attempt   string
}

// receiver is a local webhook receiver whose answer can be switched.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []hook // every request, in arrival order
	status int    // answer status (200 by default)
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{status: 200}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var b struct {
			Event   string `json:"event"`
			Payload struct {
				VideoRoom struct {
					ID uint64 `json:"id"`
				} `json:"videoRoom"`
				VideoRoomID uint64 `json:"videoRoomId"`
			} `json:"payload"`
		}
		_ = json.Unmarshal(body, &b)
		room := b.Payload.VideoRoom.ID + b.Payload.VideoRoomID
		r.mu.Lock()
		r.got = append(r.got, hook{EventID: req.Header.Get(events.HeaderEventID), Signature: req.Header.Get(events.HeaderSignature),
			Body: body, Event: b.Event, RoomID: room, Attempt: req.Header.Get(events.HeaderAttempt)})
		st := r.status
		r.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setStatus(s int) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
}

// hooks returns a copy of what arrived.
func (r *receiver) hooks() []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hook(nil), r.got...)
}

// distinct returns the requests with distinct event IDs in first-arrival order.
func distinct(hs []hook) []hook {
	seen := map[string]bool{}
	var out []hook
	for _, h := range hs {
		if !seen[h.EventID] {
			seen[h.EventID] = true
			out = append(out, h)
		}
	}
	return out
}

// verify checks a signature with the documented recipe:
// t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
func verify(secret, header string, body []byte) error {
	var ts, v1 string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	if ts == "" || !hmac.Equal([]byte(want), []byte(v1)) {
		return fmt.Errorf("bad signature %q", header)
	}
	if t, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(t, 0)).Abs() > time.Minute {
		return fmt.Errorf("signature time %q", ts)
	}
	return nil
}

// setCallback points the app's webhooks at url and returns the signing secret.
func (e *env) setCallback(a app, url string, evs []string) string {
	e.t.Helper()
	body := map[string]any{"url": url}
	if evs != nil {
		body["events"] = evs
	}
	return e.must(200, "PUT", "/v2/apps/me/callback", a.auth, body)["secret"].(string)
}

// sseClient is one open event-sources stream.
type sseClient struct {
	res    *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
}

// sseMsg is one parsed SSE message.
type sseMsg struct {
	ID, Event, Data string
	Comments        []string
}

// openSSE opens the member's stream (lastID "" for none).
func (e *env) openSSE(token, lastID string) (*sseClient, int) {
	e.t.Helper()
	return e.openSSEPath(token, "/v2/members/me/event-sources", lastID)
}

// openSSEPath opens a stream at path (which may carry a query).
func (e *env) openSSEPath(token, path, lastID string) (*sseClient, int) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	c := &sseClient{res: res, rd: bufio.NewReader(res.Body), cancel: cancel}
	e.t.Cleanup(c.close)
	return c, res.StatusCode
}

func (c *sseClient) close() {
	c.cancel()
	c.res.Body.Close()
}

// next reads the next message with data (comments are collected into it).
func (c *sseClient) next(t testing.TB) sseMsg {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, c.close) // a read never hangs the test
	defer timer.Stop()
	var m sseMsg
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read sse: %v (partial %+v)", err, m)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if m.Data != "" {
				return m
			}
		case strings.HasPrefix(line, ":"):
			m.Comments = append(m.Comments, line)
		case strings.HasPrefix(line, "id: "):
			m.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			m.Event = line[7:]
		case strings.HasPrefix(line, "data: "):
			m.Data = line[6:]
		}
	}
}

// nextState reads a message and returns its customData.videoRoomState.
func (c *sseClient) nextState(t testing.TB) (sseMsg, string) {
	t.Helper()
	m := c.next(t)
	var msg struct {
		CustomData struct {
			VideoRoomState string `json:"videoRoomState"`
		} `json:"customData"`
	}
	if err := json.Unmarshal([]byte(m.Data), &msg); err != nil {
		t.Fatalf("message %q: %v", m.Data, err)
	}
	return m, msg.CustomData.VideoRoomState
}
