//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// chatPages drives chat.mjs: Chromium pages, one per member, on their own origin.
type chatPages struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	mu    sync.Mutex
	debug strings.Builder
}

func startChatPages(t *testing.T) *chatPages {
	t.Helper()
	shots, _ := filepath.Abs("out")
	cmd := exec.Command("node", "chat.mjs", "--shots", shots)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &chatPages{t: t, cmd: cmd, in: in, out: bufio.NewScanner(out)}
	c.out.Buffer(make([]byte, 1<<20), 16<<20)
	cmd.Stderr = &c.debug
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = io.WriteString(in, `{"op":"quit"}`+"\n")
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("chat.mjs stderr: %s", c.debug.String())
		}
	})
	return c
}

// do sends one command and decodes its answer into out (if not nil).
func (c *chatPages) do(cmd map[string]any, out any) map[string]any {
	c.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		c.t.Fatalf("chat.mjs %v: %v", cmd["op"], err)
	}
	if !c.out.Scan() {
		c.t.Fatalf("chat.mjs ended: %v\n%s", c.out.Err(), c.debug.String())
	}
	var m map[string]any
	if err := json.Unmarshal(c.out.Bytes(), &m); err != nil {
		c.t.Fatalf("chat.mjs answer %q: %v", c.out.Bytes(), err)
	}
	if out != nil {
		_ = json.Unmarshal(c.out.Bytes(), out)
	}
	return m
}

func (c *chatPages) must(cmd map[string]any) map[string]any {
	c.t.Helper()
	m := c.do(cmd, nil)
	if m["ok"] != true {
		c.t.Fatalf("chat.mjs %v on %v: %v", cmd["op"], cmd["page"], m)
	}
	return m
}

// chatPageState is what a page received (window.rc of chat.mjs).
type chatPageState struct {
	Frames []struct {
		Destination string         `json:"destination"`
		Body        map[string]any `json:"body"`
	} `json:"frames"`
	StompErrors []map[string]any `json:"stompErrors"`
	Events      []struct {
		ID   string         `json:"id"`
		Data map[string]any `json:"data"`
	} `json:"events"`
}

func (c *chatPages) state(page string) chatPageState {
	c.t.Helper()
	var s chatPageState
	c.do(map[string]any{"op": "dump", "page": page}, &s)
	return s
}

// message returns the chat message frame whose text is text, if the page has it.
func (s chatPageState) message(text string) map[string]any {
	for _, f := range s.Frames {
		if f.Body["message"] == text {
			return f.Body
		}
	}
	return nil
}

// signal reports whether the page has a hide/unhide/delete signal for message id
// with state.
func (s chatPageState) signal(id string, state string) bool {
	for _, f := range s.Frames {
		d, _ := f.Body["customData"].(map[string]any)
		if d != nil && fmt.Sprint(d["messageId"]) == id && d["chatMessageState"] == state {
			return true
		}
	}
	return false
}

// roomStates returns the videoRoomState of each room signal the EventSource got.
func (s chatPageState) roomStates() []string {
	var out []string
	for _, e := range s.Events {
		if d, _ := e.Data["customData"].(map[string]any); d != nil && d["type"] == "VIDEO_ROOM" {
			out = append(out, fmt.Sprint(d["videoRoomState"]))
		}
	}
	return out
}

// TestMembersChatInBrowsers: two members chat in two Chromium pages with
// @stomp/stompjs over the chat socket (token in the URL, as browsers must): one
// sends, both receive; an admin direct message reaches only its receiver; an
// admin hide arrives as a signal; a forbidden word is refused in the SEND's
// receipt and not stored. A native EventSource (token in the URL, another
// origin) receives the LIVE, LIVE_INACTIVE and ENDED signals of a real broadcast.
func TestMembersChatInBrowsers(t *testing.T) {
	for _, tool := range []string{"ffmpeg", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (.ci/run installs it)", tool)
		}
	}
	in := startServer(t)
	tokens := map[string]string{}
	for _, u := range []string{"host", "alice", "bob"} {
		if c := in.api(t, "POST", "/members", map[string]any{"appUserId": u, "appUserName": u}, nil); c >= 300 {
			t.Fatalf("create member %s: %d", u, c)
		}
		var tok struct {
			AccessToken string `json:"accessToken"`
		}
		in.api(t, "POST", "/members/"+u+"/tokens", map[string]any{}, &tok)
		tokens[u] = tok.AccessToken
	}
	var r struct {
		room
		Chat *struct {
			ChannelKey string `json:"channelKey"`
		} `json:"chat"`
	}
	if c := in.api(t, "POST", "/video-rooms", map[string]any{
		"appUserId": "host", "type": "BROADCAST_RTMP", "title": "E2E chat",
		"scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}, &r); c != 201 {
		t.Fatalf("create room: %d", c)
	}
	roomPath := fmt.Sprintf("/video-rooms/%d", r.ID)
	if c := in.api(t, "POST", roomPath+"/chat-room", nil, nil); c >= 300 {
		t.Fatalf("create chat room: %d", c)
	}
	in.api(t, "GET", roomPath, nil, &r)
	if r.Chat == nil || r.Chat.ChannelKey == "" {
		t.Fatalf("room without a chat room: %+v", r)
	}
	if c := in.api(t, "PUT", roomPath+"/chat-room/forbidden-words", map[string]any{"forbiddenWords": []string{"dummkopf"}}, nil); c != 200 {
		t.Fatalf("forbidden words: %d", c)
	}
	chatDest := "/chat-rooms/" + r.Chat.ChannelKey
	socket := "ws" + strings.TrimPrefix(in.httpURL, "http") + "/v2/members/me/chat-socket"

	p := startChatPages(t)
	for _, who := range []string{"alice", "bob"} {
		p.must(map[string]any{"op": "open", "page": who})
		p.must(map[string]any{"op": "connect", "page": who, "url": socket, "token": tokens[who]})
		p.must(map[string]any{"op": "subscribe", "page": who, "destination": chatDest})
		p.must(map[string]any{"op": "subscribe", "page": who, "destination": "/user/queue/errors"})
	}
	// Both subscriptions are chat memberships (the App API's member list shows them).
	waitFor(t, 10*time.Second, "alice and bob chat members", func() bool {
		var page struct {
			Content []struct {
				AppUserID string `json:"appUserId"`
			} `json:"content"`
		}
		in.api(t, "GET", roomPath+"/chat-room/members", nil, &page)
		n := 0
		for _, m := range page.Content {
			if m.AppUserID == "alice" || m.AppUserID == "bob" {
				n++
			}
		}
		return n == 2
	})

	// One sends, both receive.
	send := func(text, receipt string) map[string]any {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"type": "MESSAGE", "message": text, "data": map[string]any{"mood": "e2e"}})
		return p.must(map[string]any{"op": "send", "page": "alice", "destination": chatDest + "/messages", "body": string(body), "receipt": receipt})
	}
	if rc := send("hello from alice", "r1"); rc["headers"].(map[string]any)["error"] != nil {
		t.Fatalf("SEND refused: %v", rc)
	}
	var hello map[string]any
	waitFor(t, 10*time.Second, "both pages receive alice's message", func() bool {
		hello = p.state("bob").message("hello from alice")
		return hello != nil && p.state("alice").message("hello from alice") != nil
	})
	helloID := fmt.Sprint(hello["messageId"])

	// An admin direct message reaches bob only: alice gets a later broadcast but never the DM.
	if c := in.api(t, "POST", roomPath+"/chat-room/admin/messages/direct", map[string]any{
		"messageType": "DM", "message": "for bob only", "appUserIds": []string{"bob"}}, nil); c >= 300 {
		t.Fatalf("admin DM: %d", c)
	}
	waitFor(t, 10*time.Second, "bob receives the DM", func() bool { return p.state("bob").message("for bob only") != nil })
	send("after the dm", "r2")
	waitFor(t, 10*time.Second, "alice receives her next message", func() bool { return p.state("alice").message("after the dm") != nil })
	if p.state("alice").message("for bob only") != nil {
		t.Fatal("alice received bob's direct message")
	}

	// An admin hide arrives in both pages as a CHANGE_DATA_CAPTURE signal.
	if c := in.api(t, "POST", roomPath+"/chat-room/messages/"+helloID+"/hide", nil, nil); c >= 300 {
		t.Fatalf("hide: %d", c)
	}
	waitFor(t, 10*time.Second, "the hide signal in both pages", func() bool {
		return p.state("alice").signal(helloID, "HIDDEN") && p.state("bob").signal(helloID, "HIDDEN")
	})

	// A forbidden word is refused in the receipt; the connection stays open, nothing is stored.
	rc := send("you DUMMKOPF!", "r3")
	if h := rc["headers"].(map[string]any); h["error"] != "CHAT_MESSAGE_FORBIDDEN_WORD" {
		t.Fatalf("forbidden word: receipt %v", h)
	}
	send("still here", "r4")
	waitFor(t, 10*time.Second, "bob receives the next message", func() bool { return p.state("bob").message("still here") != nil })
	var list struct {
		Content []struct {
			Message string `json:"message"`
		} `json:"content"`
	}
	in.api(t, "GET", roomPath+"/chat-room/messages?pageSize=100", nil, &list)
	for _, m := range list.Content {
		if strings.Contains(strings.ToLower(m.Message), "dummkopf") {
			t.Fatalf("refused message stored: %+v", list.Content)
		}
	}
	if s := p.state("bob"); len(s.StompErrors) > 0 || s.message("you DUMMKOPF!") != nil {
		t.Fatalf("bob's page: errors %v", s.StompErrors)
	}
	t.Logf("E2E-REPORT chat=stompjs pages=2 messages=%d", len(list.Content))

	// A native EventSource on another origin follows a real broadcast.
	join := p.must(map[string]any{"op": "fetch", "page": "bob", "method": "POST",
		"url": in.httpURL + "/v2/members/me" + roomPath + "/join", "token": tokens["bob"]})
	if join["status"] != float64(200) {
		t.Fatalf("join from the page: %v", join)
	}
	p.must(map[string]any{"op": "eventsource", "page": "bob", "url": in.httpURL + "/v2/members/me/event-sources?accessToken=" + tokens["bob"]})
	var key struct {
		StreamKey      string `json:"streamKey"`
		StreamKeyState string `json:"streamKeyState"`
		IngestURL      string `json:"ingestUrl"`
	}
	in.api(t, "GET", "/members/host/stream-key", nil, &key)
	pub := publishLikeOBS(t, key.IngestURL+"/"+key.StreamKey+"?mode=CMAF")
	waitFor(t, 15*time.Second, "stream key ACTIVE", func() bool {
		in.api(t, "GET", "/members/host/stream-key", nil, &key)
		return key.StreamKeyState == "ACTIVE"
	})
	if c := in.api(t, "POST", roomPath+"/rtmp-broadcast/state/live", nil, nil); c != 200 {
		t.Fatalf("start: %d", c)
	}
	waitFor(t, 15*time.Second, "EventSource: LIVE", func() bool { return strings.Contains(strings.Join(p.state("bob").roomStates(), ","), "LIVE") })
	stopPublisher(pub)
	waitFor(t, 20*time.Second, "EventSource: LIVE_INACTIVE", func() bool {
		return strings.Contains(strings.Join(p.state("bob").roomStates(), ","), "LIVE_INACTIVE")
	})
	if c := in.api(t, "POST", roomPath+"/rtmp-broadcast/state/ended", nil, nil); c != 200 {
		t.Fatalf("end: %d", c)
	}
	waitFor(t, 15*time.Second, "EventSource: ENDED", func() bool {
		return strings.Contains(strings.Join(p.state("bob").roomStates(), ","), "ENDED")
	})
	got := p.state("bob").roomStates()
	if len(got) < 3 || strings.Join(got[:3], ",") != "LIVE,LIVE_INACTIVE,ENDED" {
		t.Fatalf("EventSource room states %v, want LIVE, LIVE_INACTIVE, ENDED first", got)
	}
	t.Logf("E2E-REPORT eventsource=native states=%s", strings.Join(got, ","))
	p.must(map[string]any{"op": "shot", "page": "bob"})
}
