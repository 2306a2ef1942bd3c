package chatsocket_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-stomp/stomp/v3/frame"
	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/chatsocket"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/internal/testclock"
	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// TestMain fails the run when a test leaves goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quiet is a logger that drops everything.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is the whole member chat path: a real bbolt store, control, the events
// Broker (SSE, webhooks), the REST API and the chat socket on a loopback HTTP
// listener, and a local webhook receiver.
type env struct {
	t      testing.TB
	clock  *testclock.Clock
	ctl    *control.Control
	broker *events.Broker
	chat   *chatsocket.Server
	srv    *httptest.Server
	hooks  *receiver
}

// start builds an env; tune edits the chat socket config before Initialize,
// wrap (if any) the HTTP listener.
func start(t testing.TB, tune func(*chatsocket.Server), wrap ...func(net.Listener) net.Listener) *env {
	t.Helper()
	return startOn(t, storagetest.Open(t), tune, wrap...)
}

// startOn is start over an open store (closed by the caller).
func startOn(t testing.TB, store *storage.Store, tune func(*chatsocket.Server), wrap ...func(net.Listener) net.Listener) *env {
	t.Helper()
	e := &env{t: t, clock: testclock.New(time.Now().UTC()), hooks: newReceiver(t)}
	e.broker = &events.Broker{Store: store, Log: quiet, PollInterval: 50 * time.Millisecond,
		RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	e.ctl = &control.Control{Store: store, Log: quiet, Now: e.clock.Now, Events: e.broker,
		TokenTTL: time.Hour}
	e.broker.Channels = e.ctl
	if err := e.ctl.Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := e.broker.Initialize(); err != nil {
		t.Fatal(err)
	}
	// The control clock stands still in these tests, so a member's rate limit
	// would never refill: the harness's moderator allows any rate
	// (TestModeratedSends tests the limit).
	mod := &chat.Moderator{Rate: 1e9, Burst: 1 << 30}
	if err := mod.Initialize(); err != nil {
		t.Fatal(err)
	}
	e.chat = &chatsocket.Server{Control: e.ctl, Events: e.broker, Log: quiet, HeartBeat: time.Minute,
		WriteTimeout: 2 * time.Second, Moderator: mod}
	if tune != nil {
		tune(e.chat)
	}
	if err := e.chat.Initialize(); err != nil {
		t.Fatal(err)
	}
	a := &api.Server{Control: e.ctl, EventSource: e.broker, ChatSocket: e.chat, MaxInFlight: -1}
	if err := a.Initialize(); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(a.Handler())
	for _, w := range wrap {
		e.srv.Listener = w(e.srv.Listener)
	}
	e.srv.Start()
	t.Cleanup(func() {
		e.chat.Close()
		e.broker.Close()
		e.srv.CloseClientConnections()
		e.srv.Close()
		e.ctl.Close()
	})
	return e
}

// call sends a REST request and decodes a JSON answer (nil for none).
func (e *env) call(method, path, auth string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return res.StatusCode, m
}

// must is call that fails the test unless the status is want.
func (e *env) must(want int, method, path, auth string, body any) map[string]any {
	e.t.Helper()
	st, m := e.call(method, path, auth, body)
	if st != want {
		e.t.Fatalf("%s %s: status %d, want %d: %v", method, path, st, want, m)
	}
	return m
}

// app is an app's Basic header.
type app string

func (e *env) newApp() app {
	e.t.Helper()
	creds, err := e.ctl.CreateApp(context.Background(), "app")
	if err != nil {
		e.t.Fatal(err)
	}
	return app("Basic " + base64.StdEncoding.EncodeToString([]byte(creds.APIKey+":"+creds.APISecret)))
}

// member is a member with its access token.
type member struct {
	ID        uint64
	AppUserID string
	Token     string
}

func (e *env) newMember(a app, id string) member {
	e.t.Helper()
	m := e.must(201, "POST", "/v2/apps/me/members", string(a), map[string]any{"appUserId": id, "appUserName": "name " + id})
	tok := e.must(200, "POST", "/v2/apps/me/members/"+id+"/tokens", string(a), nil)
	return member{ID: uint64(m["id"].(float64)), AppUserID: id, Token: tok["accessToken"].(string)}
}

// chatRoom is a video room with an open chat room.
type chatRoom struct {
	ID         uint64
	ChannelKey string
}

func (c chatRoom) path() string { return "/v2/apps/me/video-rooms/" + strconv.FormatUint(c.ID, 10) }

// dest is the SUBSCRIBE destination of the chat room.
func (c chatRoom) dest() string { return "/chat-rooms/" + c.ChannelKey }

// messages is the SEND destination of the chat room.
func (c chatRoom) messages() string { return c.dest() + "/messages" }

// newChatRoom creates a room (owned by host, with extra fields) and its chat room.
func (e *env) newChatRoom(a app, host member, extra map[string]any) chatRoom {
	e.t.Helper()
	body := map[string]any{"appUserId": host.AppUserID, "type": "BROADCAST_RTMP",
		"scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
	for k, v := range extra {
		body[k] = v
	}
	r := e.must(201, "POST", "/v2/apps/me/video-rooms", string(a), body)
	id := uint64(r["id"].(float64))
	cr := e.must(200, "POST", "/v2/apps/me/video-rooms/"+strconv.FormatUint(id, 10)+"/chat-room", string(a), nil)
	return chatRoom{ID: id, ChannelKey: cr["channelKey"].(string)}
}

// wsURL is the chat socket URL with an optional query.
func (e *env) wsURL(query string) string {
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v2/members/me/chat-socket"
	if query != "" {
		u += "?" + query
	}
	return u
}

// client is a raw STOMP client: it writes each frame as one WebSocket message
// (go-stomp's frame.Writer) and parses what the server sends with go-stomp's
// frame.Reader, a decoder independent of the server's.
type client struct {
	t       testing.TB
	ws      *websocket.Conn
	resp    *http.Response
	pending []*frame.Frame // read while looking for a RECEIPT, not yet returned
}

// dial opens a socket (subprotocol v12.stomp unless protos says otherwise).
func (e *env) dial(query string, header http.Header, protos ...string) (*client, error) {
	if protos == nil {
		protos = []string{"v12.stomp"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, e.wsURL(query), &websocket.DialOptions{Subprotocols: protos, HTTPHeader: header})
	if err != nil {
		return &client{t: e.t, resp: resp}, err
	}
	ws.SetReadLimit(1 << 20)
	c := &client{t: e.t, ws: ws, resp: resp}
	e.t.Cleanup(func() { c.ws.CloseNow() })
	return c, nil
}

// mustDial is dial that fails the test on error.
func (e *env) mustDial(query string) *client {
	e.t.Helper()
	c, err := e.dial(query, nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	return c
}

// connect dials and CONNECTs with token as passcode; it returns the CONNECTED frame.
func (e *env) connect(token string, headers ...string) (*client, *frame.Frame) {
	e.t.Helper()
	c := e.mustDial("")
	c.send(frame.CONNECT, append([]string{"accept-version", "1.0,1.1,1.2", "host", "roomcast", "passcode", token}, headers...), nil)
	f := c.next()
	if f.Command != frame.CONNECTED {
		e.t.Fatalf("CONNECT answered %s %v %s", f.Command, f.Header, f.Body)
	}
	return c, f
}

// raw writes bytes as one WebSocket message.
func (c *client) raw(p []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, p); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send writes one frame.
func (c *client) send(cmd string, headers []string, body []byte) {
	c.t.Helper()
	f := frame.New(cmd, headers...)
	f.Body = body
	var buf bytes.Buffer
	if err := frame.NewWriter(&buf).Write(f); err != nil {
		c.t.Fatal(err)
	}
	c.raw(buf.Bytes())
}

// next reads the next frame (skipping heart-beats) within 10 s.
func (c *client) next() *frame.Frame {
	c.t.Helper()
	if len(c.pending) > 0 {
		f := c.pending[0]
		c.pending = c.pending[1:]
		return f
	}
	f, err := c.nextFrame(10*time.Second, true)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// nextFrame reads the next frame; with skipBeats, heart-beats are skipped
// (else a heart-beat is returned as nil).
func (c *client) nextFrame(within time.Duration, skipBeats bool) (*frame.Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		_, msg, err := c.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		f, err := frame.NewReader(bytes.NewReader(msg)).Read()
		if err != nil {
			return nil, err
		}
		if f == nil && skipBeats {
			continue
		}
		return f, nil
	}
}

// expectError reads the ERROR that ends the connection and checks its code,
// its JSON body, and that the socket is closed after it.
func (c *client) expectError(code string) {
	c.t.Helper()
	f := c.next()
	if f.Command != frame.ERROR || f.Header.Get("message") != code {
		c.t.Fatalf("got %s %v %s, want ERROR %s", f.Command, f.Header, f.Body, code)
	}
	var b struct{ ErrorCode, Message string }
	if err := json.Unmarshal(f.Body, &b); err != nil || b.ErrorCode != code || b.Message == "" ||
		f.Header.Get("content-type") != "application/json" {
		c.t.Fatalf("ERROR body %s (%v), headers %v", f.Body, err, f.Header)
	}
	if _, err := c.nextFrame(10*time.Second, true); err == nil {
		c.t.Fatal("the socket stayed open after ERROR")
	}
}

// subscribe subscribes with a receipt and waits for it.
func (c *client) subscribe(id, dest string, headers ...string) {
	c.t.Helper()
	c.send(frame.SUBSCRIBE, append([]string{"id", id, "destination", dest, "receipt", "sub-" + id}, headers...), nil)
	c.expectReceipt("sub-" + id)
}

// receiptFor reads until the RECEIPT (or ERROR) for id; MESSAGE frames read
// meanwhile stay pending for next, in order.
func (c *client) receiptFor(id string) *frame.Frame {
	c.t.Helper()
	var kept []*frame.Frame
	defer func() { c.pending = append(c.pending, kept...) }()
	for {
		f, err := c.nextFrame(10*time.Second, true)
		if err != nil {
			c.t.Fatalf("waiting for receipt %s: %v", id, err)
		}
		if f.Command == frame.MESSAGE {
			kept = append(kept, f)
			continue
		}
		if f.Command != frame.RECEIPT || f.Header.Get("receipt-id") != id {
			c.t.Fatalf("got %s %v %s, want RECEIPT %s", f.Command, f.Header, f.Body, id)
		}
		return f
	}
}

// expectReceipt reads a RECEIPT for id (without an error header).
func (c *client) expectReceipt(id string) *frame.Frame {
	c.t.Helper()
	f := c.receiptFor(id)
	if code, bad := f.Header.Contains("error"); bad {
		c.t.Fatalf("receipt %s refused: %s %s", id, code, f.Header.Get("error-message"))
	}
	return f
}

// post SENDs a chat message body (JSON) with a receipt; it returns the RECEIPT.
func (c *client) post(dest, receipt string, body any) *frame.Frame {
	c.t.Helper()
	raw, _ := json.Marshal(body)
	c.send(frame.SEND, []string{"destination", dest, "content-type", "application/json", "receipt", receipt}, raw)
	return c.receiptFor(receipt)
}

// chatMsg is a MESSAGE frame's notification (chat message or signal).
type chatMsg struct {
	MessageID, Origin, Type, DeliveryType, ChannelKey, VideoKey, CustomType string
	Message                                                                 *string
	Data                                                                    map[string]any
	Sender                                                                  *struct{ AppUserID, AppUserName string }
	CustomData                                                              map[string]any
}

// text is the text of a message, or SIGNAL:<state>:<id> for a signal.
func (m chatMsg) text() string {
	if m.Type == "SIGNAL" {
		return "SIGNAL:" + m.CustomData["chatMessageState"].(string) + ":" + m.CustomData["messageId"].(string)
	}
	if m.Message == nil {
		return ""
	}
	return *m.Message
}

// nextMessage reads a MESSAGE frame and decodes its body.
func (c *client) nextMessage() (*frame.Frame, chatMsg) {
	c.t.Helper()
	f := c.next()
	if f.Command != frame.MESSAGE {
		c.t.Fatalf("got %s %v %s, want MESSAGE", f.Command, f.Header, f.Body)
	}
	var m chatMsg
	if err := json.Unmarshal(f.Body, &m); err != nil {
		c.t.Fatalf("MESSAGE body %q: %v", f.Body, err)
	}
	return f, m
}

// expectTexts reads len(want) MESSAGE frames and checks their texts.
func (c *client) expectTexts(who string, want ...string) {
	c.t.Helper()
	var got []string
	for range want {
		_, m := c.nextMessage()
		got = append(got, m.text())
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		c.t.Fatalf("%s got %q, want %q", who, got, want)
	}
}

// receiver is a local webhook receiver.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  [][]byte
	addr string
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, body)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// find returns the first webhook body whose event is name and that contains sub.
func (r *receiver) find(name, sub string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.got {
		var h struct{ Event string }
		_ = json.Unmarshal(b, &h)
		if h.Event == name && bytes.Contains(b, []byte(sub)) {
			return b
		}
	}
	return nil
}

// netConnOf opens a socket as a net.Conn (coder/websocket NetConn) for
// go-stomp's client: each Write is one text message.
func (e *env) netConnOf(t testing.TB) net.Conn {
	t.Helper()
	c := e.mustDial("")
	return websocket.NetConn(context.Background(), c.ws, websocket.MessageText)
}

// stompLog silences go-stomp's client logger.
type stompLog struct{}

func (stompLog) Debugf(string, ...any)   {}
func (stompLog) Infof(string, ...any)    {}
func (stompLog) Warningf(string, ...any) {}
func (stompLog) Errorf(string, ...any)   {}
func (stompLog) Debug(string)            {}
func (stompLog) Info(string)             {}
func (stompLog) Warning(string)          {}
func (stompLog) Error(string)            {}
