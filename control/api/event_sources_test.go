package api

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/internal/testclock"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// logBuffer collects every log line of a test (debug level included).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sseEnv is a control plane with a real events.Broker serving the member SSE
// stream over a loopback HTTP server; every component logs into logs.
type sseEnv struct {
	*env
	logs *logBuffer
}

func newSSEEnv(t *testing.T) *sseEnv {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := storagetest.Open(t)
	broker := &events.Broker{Store: store, Log: log}
	e := &env{t: t, store: store, clock: testclock.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)), rec: &recorder{}}
	e.c = &control.Control{Store: store, Log: log, PublicHTTPURL: "http://media.test", Events: broker, Now: e.clock.Now}
	broker.Channels = e.c
	if err := e.c.Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := broker.Initialize(); err != nil {
		e.c.Close()
		t.Fatal(err)
	}
	e.api = &Server{Control: e.c, EventSource: broker, Log: log}
	if err := e.api.Initialize(); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(func() {
		broker.Close()
		e.srv.CloseClientConnections()
		e.srv.Close()
		e.c.Close()
	})
	return &sseEnv{env: e, logs: logs}
}

// openSSE opens the event stream at rawURL with no header at all (as a
// browser's EventSource does) and returns its lines; the stream closes at the
// end of the test.
func (e *sseEnv) openSSE(rawURL string) (<-chan string, *http.Response) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", rawURL, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	lines := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	e.t.(*testing.T).Cleanup(func() {
		cancel()
		res.Body.Close()
		<-done
	})
	return lines, res
}

// waitLine waits (at most 10 s) for a line containing want.
func waitLine(t *testing.T, lines <-chan string, want string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before a line with %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line with %q within 10 s", want)
		}
	}
}

// TestEventSourcesAccessTokenQuery: a browser's EventSource, which cannot set
// headers, authenticates with ?accessToken=; the stream then delivers the
// member's events. A wrong or empty token is 401, the parameter works on this
// route only, and no log line ever holds the token.
func TestEventSourcesAccessTokenQuery(t *testing.T) {
	e := newSSEEnv(t)
	_, app := e.newApp("app")
	e.newMember(app, "host")
	u1 := e.newMember(app, "u1")
	room := e.newRoom(app, "host", "r")
	chatPath := roomPath(room) + "/chat-room"
	e.must(200, "POST", chatPath, app, "")
	e.must(201, "POST", chatPath+"/members", app, map[string]any{"appUserId": "u1"})

	base := e.srv.URL + "/v2/members/me/event-sources"
	lines, res := e.openSSE(base + "?accessToken=" + url.QueryEscape(u1.Access))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream answered %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	waitLine(t, lines, ": connected")
	e.must(200, "POST", chatPath+"/members/u1/mute", app, map[string]any{"seconds": 30})
	data := waitLine(t, lines, "data: ")
	if !strings.Contains(data, `"type":"CHAT_MEMBER"`) || !strings.Contains(data, `"appUserId":"u1"`) ||
		!strings.Contains(data, `"muted":true`) {
		t.Fatalf("event %s", data)
	}

	wrong := []string{"?accessToken=not-a-token", "?accessToken=", "?accessToken=" + url.QueryEscape(u1.Access) + "x",
		"?accesstoken=" + url.QueryEscape(u1.Access), ""}
	for _, q := range wrong {
		e.clock.Add(authAddrInterval) // each failure's budget back: 401, not 429
		e.fail(http.StatusUnauthorized, "UNAUTHORIZED", "GET", "/v2/members/me/event-sources"+q, "", nil)
	}
	// A header, even a wrong one, wins over the parameter.
	e.fail(http.StatusUnauthorized, "UNAUTHORIZED", "GET",
		"/v2/members/me/event-sources?accessToken="+url.QueryEscape(u1.Access), bearer("wrong"), nil)
	// Only this route takes the parameter.
	e.clock.Add(authAddrInterval)
	e.fail(http.StatusUnauthorized, "UNAUTHORIZED", "GET", "/v2/members/me?accessToken="+url.QueryEscape(u1.Access), "", nil)
	e.must(200, "GET", "/v2/members/me", bearer(u1.Access), nil)

	logs := e.logs.String()
	if !strings.Contains(logs, "member authentication failed") || !strings.Contains(logs, "accessToken=REDACTED") {
		t.Fatalf("the failed attempts were not logged with a redacted URI:\n%s", logs)
	}
	for _, secret := range []string{u1.Access, url.QueryEscape(u1.Access), "not-a-token"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a log line holds the token %q:\n%s", secret, logs)
		}
	}
}

// TestRedactedURI: credentials of the query are replaced, the rest kept.
func TestRedactedURI(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/a?accessToken=s3cret&lastEventId=4": "/a?accessToken=REDACTED&lastEventId=4",
		"/live/x/index.m3u8?streamingToken=t": "/live/x/index.m3u8?streamingToken=REDACTED",
		"/a?x=1":                              "/a?x=1",
		"/a":                                  "/a",
	} {
		r := httptest.NewRequest("GET", in, nil)
		if got := redactedURI(r); got != want {
			t.Errorf("redactedURI(%s) = %s, want %s", in, got, want)
		}
	}
}
