package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// hookReceiver is a real local webhook endpoint that verifies every delivery with the
// documented recipe (written out here, not borrowed from the server's code).
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string

	mu     sync.Mutex
	events []string // event names in arrival order
	bodies []string // their bodies
	ids    map[string]bool
	dups   map[string]int // event id → deliveries after the first
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{t: t, ids: map[string]bool{}, dups: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	var ts, v1 string
	for _, part := range strings.Split(r.Header.Get("Roomcast-Signature"), ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	mac := hmac.New(sha256.New, []byte(h.secret))
	fmt.Fprintf(mac, "%s.%s", ts, body)
	if want := hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(v1)) {
		h.t.Errorf("webhook signature %q does not verify", r.Header.Get("Roomcast-Signature"))
	}
	var msg struct {
		ID    string `json:"id"`
		Event string `json:"event"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Event == "" {
		h.t.Errorf("webhook body %q: %v", body, err)
	}
	if id := r.Header.Get("Roomcast-Event-Id"); id == "" || id != msg.ID {
		h.t.Errorf("Roomcast-Event-Id %q, body id %q", id, msg.ID)
	}
	if !h.ids[msg.ID] {
		h.ids[msg.ID] = true
		h.events = append(h.events, msg.Event)
		h.bodies = append(h.bodies, string(body))
	} else {
		h.dups[msg.ID]++
	}
	w.WriteHeader(http.StatusNoContent)
}

// subscribe sets the app's callback to this receiver and keeps the signing secret.
func (h *hookReceiver) subscribe(a *api) {
	var cb struct {
		Secret string `json:"secret"`
	}
	if code := a.do("PUT", "/callback", map[string]any{"url": h.srv.URL}, &cb); code != 200 || cb.Secret == "" {
		h.t.Fatalf("PUT /callback: %d secret %q", code, cb.Secret)
	}
	h.mu.Lock()
	h.secret = cb.Secret
	h.mu.Unlock()
}

func (h *hookReceiver) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.events...)
}

// bodiesOf returns the bodies of the events named name ("": all) received so far.
func (h *hookReceiver) bodiesOf(name string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for i, e := range h.events {
		if e == name || name == "" {
			out = append(out, h.bodies[i])
		}
	}
	return out
}

// duplicates returns, per event id delivered more than once, how many extra
// deliveries arrived (receivers dedupe on Roomcast-Event-Id; a test asserting
// exactly-once delivery checks this is empty).
func (h *hookReceiver) duplicates() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.dups))
	for id, n := range h.dups {
		out[id] = n
	}
	return out
}
