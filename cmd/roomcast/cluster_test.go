//go:build cluster

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/roomcast/roomcast/internal/etcdtest"
)

// Cluster mode end to end: three roomcast processes (--store etcd) on one real
// three-member etcd cluster, a real RTMP publisher behind one ingest address (an
// L4 balancer, as a deployment puts in front of the nodes), a webhook receiver and
// two member SSE streams on two different nodes. Figures are logged as
// CLUSTER-REPORT lines. Run: go test -tags cluster -run Cluster ./cmd/roomcast/

// clusterNodeTTL is --node-ttl of every node: the lease of its publishers'
// claims, its registry entry and its leaderships.
const clusterNodeTTL = 2 * time.Second

// clusterPoll is how often the failover measurements poll the API.
const clusterPoll = 50 * time.Millisecond

// clusterNode is one roomcast process of the cluster.
type clusterNode struct {
	id       string
	dataDir  string
	httpAddr string
	rtmpAddr string
	args     []string
	proc     *proc
	a        *api
}

// startClusterNode starts a roomcast process on its own loopback ports and data
// dir, storing in etcd at endpoints.
func startClusterNode(t *testing.T, bin, id string, endpoints []string) *clusterNode {
	t.Helper()
	return startClusterNodeWith(t, bin, id, endpoints, nil, nil)
}

// startClusterNodeWith starts a node with extra flags and environment variables.
func startClusterNodeWith(t *testing.T, bin, id string, endpoints, extra, env []string) *clusterNode {
	t.Helper()
	n := &clusterNode{id: id, dataDir: filepath.Join(t.TempDir(), id), httpAddr: freeAddr(t), rtmpAddr: freeAddr(t)}
	n.args = []string{"--store", "etcd", "--etcd-endpoints", strings.Join(endpoints, ","),
		"--node-id", id, "--node-ttl", clusterNodeTTL.String(),
		"--data", n.dataDir,
		"--http-addr", n.httpAddr, "--rtmp-addr", n.rtmpAddr,
		"--public-http-url", "http://" + n.httpAddr, "--public-rtmp-url", "rtmp://" + n.rtmpAddr,
		"--segment-duration", "1s", "--log-level", "info",
		// three servers and three etcd members share this machine: admission by
		// process CPU and scheduler latency would measure the test, not a node.
		"--max-cpu", "0", "--max-sched-latency", "0"}
	n.args = append(n.args, extra...)
	n.proc = startProc(t, bin, n.args, env...)
	// A real client bounds every request; a request stuck on a store that lost
	// its etcd member must not hang the test.
	n.a = &api{t: t, base: "http://" + n.httpAddr, apiKey: "crashkey", secret: "crashsecret-0123456789",
		client: &http.Client{Timeout: 10 * time.Second}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("=== node %s (%s) output tail:\n%s", id, n.httpAddr, outputTail(n.proc.out.String(), 60))
		}
	})
	return n
}

func (n *clusterNode) ready() bool {
	resp, err := http.Get(n.a.base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// kill sends SIGKILL and waits for the process to exit.
func (n *clusterNode) kill(t *testing.T) {
	t.Helper()
	if err := n.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	n.proc.cmd.Wait()
}

// outputTail returns the last lines of a process's output.
func outputTail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// clusterNodeJSON is one entry of GET /v2/cluster/nodes.
type clusterNodeJSON struct {
	ID         string   `json:"id"`
	HTTPURL    string   `json:"httpUrl"`
	RTMPURL    string   `json:"rtmpUrl"`
	Publishers int      `json:"publishers"`
	Sessions   []string `json:"sessions"`
	Viewers    int      `json:"viewers"`
	Load       float64  `json:"load"`
	StartedAt  string   `json:"startedAt"`
	UpdatedAt  string   `json:"updatedAt"`
}

// startThreeNodes starts three etcd members and three roomcast nodes on them
// (node-a, node-b, node-c) and waits until every node is ready.
func startThreeNodes(t *testing.T, bin string) (*etcdtest.Cluster, []*clusterNode) {
	t.Helper()
	etcd := etcdtest.Start(t, 3)
	var nodes []*clusterNode
	for _, id := range []string{"node-a", "node-b", "node-c"} {
		nodes = append(nodes, startClusterNode(t, bin, id, etcd.AllEndpoints()))
	}
	for _, n := range nodes {
		eventually(t, 30*time.Second, n.id+" ready", n.ready)
	}
	return etcd, nodes
}

// nodes lists the live nodes as node n sees them (nil when it does not answer 200).
func (n *clusterNode) nodes() []clusterNodeJSON {
	var out struct {
		Nodes []clusterNodeJSON `json:"nodes"`
	}
	if code, err := n.a.request("GET", "/v2/cluster/nodes", nil, &out); err != nil || code != 200 {
		return nil
	}
	return out.Nodes
}

func nodeIDs(ns []clusterNodeJSON) []string {
	var ids []string
	for _, n := range ns {
		ids = append(ids, n.ID)
	}
	slices.Sort(ids)
	return ids
}

// retry sends an App API request the way a real client does through a leader
// election of the store: a transport error (its 10 s timeout included) or a 5xx
// answer is retried after 200 ms, for at most 20 s. It logs every failed
// attempt and returns the final status and how many attempts failed.
func (a *api) retry(method, path string, body any, out any) (int, int) {
	a.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for failed := 0; ; failed++ {
		code, err := a.request(method, "/v2/apps/me"+path, body, out)
		if err == nil && code < 500 {
			return code, failed
		}
		a.t.Logf("%s %s on %s: %d %v (a client retries)", method, path, a.base, code, err)
		if time.Now().After(deadline) {
			a.t.Fatalf("%s %s: still failing after 20 s", method, path)
		}
		time.Sleep(200 * time.Millisecond) // the client's back-off, not a synchronisation
	}
}

// rtmpFront is the one ingest address the encoder is configured with: an L4
// forwarder in front of the nodes, as a deployment's balancer is. Each new
// connection goes to the current target node; a connection ends when either side
// closes (a killed node's connections end with it).
type rtmpFront struct {
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	target string
	conns  map[net.Conn]struct{}
	closed bool
}

func newRTMPFront(t *testing.T, target string) *rtmpFront {
	t.Helper()
	ln, err := net.Listen("tcp", freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	f := &rtmpFront{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *rtmpFront) addr() string { return f.ln.Addr().String() }

// setTarget sends the next connections to addr.
func (f *rtmpFront) setTarget(addr string) {
	f.mu.Lock()
	f.target = addr
	f.mu.Unlock()
}

func (f *rtmpFront) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go f.forward(c)
	}
}

// track registers conns so that close can end them; false once closed.
func (f *rtmpFront) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *rtmpFront) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
	}
}

func (f *rtmpFront) forward(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	if !f.track(c) {
		return
	}
	defer f.untrack(c)
	f.mu.Lock()
	target := f.target
	f.mu.Unlock()
	up, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		return // the encoder sees its connection close and reconnects
	}
	defer up.Close()
	if !f.track(up) {
		return
	}
	defer f.untrack(up)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		io.Copy(up, c)
		up.Close()
		c.Close()
	}()
	io.Copy(c, up)
}

func (f *rtmpFront) close() {
	f.ln.Close()
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// sseSignal is the part of a member SSE notification the test reads.
type sseSignal struct {
	ChannelID  uint64 `json:"channelId"`
	CustomType string `json:"customType"`
	Message    string `json:"message"`
	CustomData struct {
		VideoRoomState string `json:"videoRoomState"`
	} `json:"customData"`
}

// roomFrames returns the frames of room's channel: their ids, the room states of
// the room transitions, and the chat message texts.
func roomFrames(frames []sseFrame, room uint64) (ids, states []string, texts []string) {
	for _, f := range frames {
		var sig sseSignal
		if json.Unmarshal([]byte(f.Data), &sig) != nil || sig.ChannelID != room {
			continue
		}
		ids = append(ids, f.ID)
		if sig.CustomType == "CHANGE_DATA_CAPTURE" {
			states = append(states, sig.CustomData.VideoRoomState)
		}
		if sig.Message != "" {
			texts = append(texts, sig.Message)
		}
	}
	return ids, states, texts
}

// hookEvent is the part of a webhook body the test reads.
type hookEvent struct {
	ID      string `json:"id"`
	Event   string `json:"event"`
	Payload struct {
		VideoRoom *struct {
			ID uint64 `json:"id"`
		} `json:"videoRoom"`
		VideoRoomID *uint64 `json:"videoRoomId"`
		Reason      string  `json:"reason"`
		ChatMessage *struct {
			Message string `json:"message"`
		} `json:"chatMessage"`
	} `json:"payload"`
}

func (h *hookReceiver) decoded() []hookEvent {
	var out []hookEvent
	for _, b := range h.bodiesOf("") {
		var ev hookEvent
		if err := json.Unmarshal([]byte(b), &ev); err != nil {
			h.t.Errorf("webhook body %q: %v", b, err)
			continue
		}
		out = append(out, ev)
	}
	return out
}

// broadcastFlow are the events of the test's broadcast whose order it checks:
// room transitions, publishes, and the chat messages sent while it was live (not
// the VOD's, which follow the end, nor stream health warnings).
var broadcastFlow = map[string]bool{
	"stream_key.publish_started": true, "stream_key.publish_stopped": true,
	"video_room.live": true, "video_room.live_inactive": true, "video_room.ended": true,
	"chat.message_sent": true,
}

// hlsSegments returns how many segments the media playlist of a live HLS
// multivariant playlist has produced so far (media sequence + listed segments),
// or -1 and what answered instead.
func hlsSegments(master string) (int, string) {
	body, why := getOK(master)
	if why != "" {
		return -1, "multivariant playlist: " + why
	}
	var media string
	for _, line := range strings.Split(body, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			media = line
			break
		}
	}
	base, _ := url.Parse(master)
	ref, err := url.Parse(media)
	if media == "" || err != nil {
		return -1, fmt.Sprintf("no media playlist in %q", body)
	}
	if body, why = getOK(base.ResolveReference(ref).String()); why != "" {
		return -1, "media playlist: " + why
	}
	seq := 0
	if m := regexp.MustCompile(`(?m)^#EXT-X-MEDIA-SEQUENCE:(\d+)`).FindStringSubmatch(body); m != nil {
		seq, _ = strconv.Atoi(m[1])
	}
	return seq + strings.Count(body, "#EXTINF:"), ""
}

// getOK returns the body of a 200 answer, or why there was none.
func getOK(u string) (string, string) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err.Error()
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Sprintf("%d %.200q", resp.StatusCode, body)
	}
	return string(body), ""
}

// waitSegments waits until the HLS stream at master has produced at least min
// segments and returns how many it has; it fails with the last answer.
func waitSegments(t *testing.T, d time.Duration, master string, min int, what string) int {
	t.Helper()
	n, err := segmentsWithin(d, master, min)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return n
}

// segmentsWithin polls the HLS stream at master until it has produced at least
// min segments, for at most d; the error names the last answer.
func segmentsWithin(d time.Duration, master string, min int) (int, error) {
	deadline := time.Now().Add(d)
	for {
		n, why := hlsSegments(master)
		if n >= min {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("after %s: %d segments, want %d: %s", d, n, min, why)
		}
		time.Sleep(clusterPoll)
	}
}

// report logs one measured figure.
func report(t *testing.T, format string, a ...any) {
	t.Helper()
	t.Logf("CLUSTER-REPORT "+format, a...)
}

// TestClusterFlow is the broadcast flow on a cluster: API writes on one node read
// on the others at once, one publisher per key cluster-wide, a killed node's
// publish stopped with NODE_LOST within TTL + 1 s, the encoder resuming on another
// node, an etcd member (a follower, then the leader) killed mid-broadcast, and
// every event delivered once, in order, to the webhook and identically to SSE
// clients of two nodes.
func TestClusterFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("real etcd members and roomcast processes, broadcasting in real time")
	}
	bin := buildRoomcast(t)

	// 1. Three etcd members, three nodes.
	t0 := time.Now()
	etcd, nodes := startThreeNodes(t, bin)
	A, B, C := nodes[0], nodes[1], nodes[2]
	report(t, "etcd and three nodes ready in %v", time.Since(t0).Round(time.Millisecond))
	all := []string{A.id, B.id, C.id}
	for _, n := range nodes {
		eventually(t, 10*time.Second, n.id+" lists the three nodes", func() bool {
			return slices.Equal(nodeIDs(n.nodes()), all)
		})
	}
	for _, e := range C.nodes() {
		if e.HTTPURL == "" || e.RTMPURL == "" || e.StartedAt == "" || e.UpdatedAt == "" {
			t.Errorf("GET /v2/cluster/nodes entry lacks a field: %+v", e)
		}
	}
	t.Logf("nodes seen by C: %+v", C.nodes())

	// 2. API writes on A are read on B and C as soon as they returned (one
	// linearizable store: no waiting).
	hooks := newHookReceiver(t)
	hooks.subscribe(A.a)
	for _, n := range []*clusterNode{B, C} {
		var cb struct {
			URL string `json:"url"`
		}
		if code := n.a.do("GET", "/callback", nil, &cb); code != 200 || cb.URL != hooks.srv.URL {
			t.Errorf("callback read on %s right after the write on A: %d %q", n.id, code, cb.URL)
		}
	}
	for _, u := range []string{"host", "viewer"} {
		if code := A.a.do("POST", "/members", map[string]any{"appUserId": u}, nil); code >= 300 {
			t.Fatalf("create member %s on A: %d", u, code)
		}
	}
	key := A.a.key("host")
	var room roomJSON
	if code := A.a.do("POST", "/video-rooms", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP",
		"title": "cluster", "scheduledAt": "2030-01-01T00:00:00Z"}, &room); code >= 300 {
		t.Fatalf("create room on A: %d", code)
	}
	if code := A.a.do("POST", fmt.Sprintf("/video-rooms/%d/chat-room", room.ID), nil, nil); code != 200 {
		t.Fatalf("create chat room on A: %d", code)
	}
	for _, n := range []*clusterNode{B, C} {
		if code := n.a.do("GET", "/members/viewer", nil, nil); code != 200 {
			t.Errorf("member read on %s right after the write on A: %d", n.id, code)
		}
		if k := n.a.key("host"); k.StreamKey != key.StreamKey {
			t.Errorf("stream key read on %s differs from A's", n.id)
		}
		var r roomJSON
		if code := n.a.do("GET", fmt.Sprintf("/video-rooms/%d", room.ID), nil, &r); code != 200 ||
			r.UUID != room.UUID || r.VideoRoomState != "SCHEDULED" {
			t.Errorf("room read on %s right after the write on A: %d %+v", n.id, code, r)
		}
	}
	var hostTok, viewerTok struct {
		AccessToken    string `json:"accessToken"`
		StreamingToken string `json:"streamingToken"`
	}
	A.a.do("POST", "/members/host/tokens", map[string]any{}, &hostTok)
	A.a.do("POST", "/members/viewer/tokens", map[string]any{}, &viewerTok)

	// 3. The viewer joins the room (Member API on A): its channel and chat room.
	// Its SSE streams are opened on B and C (Bearer access token).
	join, _ := http.NewRequest("POST", fmt.Sprintf("%s/v2/members/me/video-rooms/%d/join", A.a.base, room.ID), nil)
	join.Header.Set("Authorization", "Bearer "+viewerTok.AccessToken)
	if resp, err := http.DefaultClient.Do(join); err != nil || resp.StatusCode != 200 {
		t.Fatalf("viewer join on A: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	sseB := newSSEClient(t, "sse@B", B.a.base+"/v2/members/me/event-sources", viewerTok.AccessToken)
	sseC := newSSEClient(t, "sse@C", C.a.base+"/v2/members/me/event-sources", viewerTok.AccessToken)

	// 4. The encoder publishes through the ingest address, which points at A.
	front := newRTMPFront(t, A.rtmpAddr)
	enc := startPublisher(t, "rtmp://"+front.addr()+"/live/{key}?mode=CMAF", key.StreamKey, 300*time.Millisecond)
	eventually(t, 10*time.Second, "key ACTIVE (read on B)", func() bool { return B.a.key("host").StreamKeyState == "ACTIVE" })
	second := publish(t, "rtmp://"+B.rtmpAddr+"/live/{key}?mode=CMAF", key.StreamKey)
	eventually(t, 10*time.Second, "second publisher on B refused", func() bool { return second.ended.Load() > 0 })
	second.stop()
	if second.report == nil || second.report.Publish.Published != 0 || second.report.Publish.Refused == 0 {
		t.Fatalf("second publisher on B not refused: %+v", second.report)
	}
	if st := C.a.key("host").StreamKeyState; st != "ACTIVE" {
		t.Fatalf("first publisher disturbed by the refused one: key %s", st)
	}
	// Start through C: any node takes any API call.
	if code := C.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", room.ID), nil, &room); code != 200 {
		t.Fatalf("start on C: %d", code)
	}
	if room.VideoRoomState != "LIVE" || room.LastSessionNo != 1 || room.PlayURL == nil {
		t.Fatalf("room after start: %+v", room)
	}
	play1 := *room.PlayURL
	t.Logf("session 1 playUrl %s", play1)
	master1 := A.a.base + regexp.MustCompile(`^https?://[^/]+`).ReplaceAllString(play1, "") + "?streamingToken=" + hostTok.StreamingToken
	// A started the session through C: the ingesting node A must serve it. (Not
	// fatal: the rest of the flow depends on the store, not on A's packager.)
	if _, err := segmentsWithin(10*time.Second, master1, 1); err != nil {
		t.Errorf("session 1 (started through C) not served by A, which ingests it: %v", err)
	}
	// No webhook is in flight when A dies: every event so far was delivered (a
	// delivery cut by a kill is sent again by design, which is not what step 8 checks).
	eventually(t, 10*time.Second, "webhooks of the start", func() bool {
		return slices.Contains(hooks.received(), "video_room.live")
	})

	// 5. kill -9 A: B and C apply "publish stopped" (NODE_LOST) within TTL + 1 s.
	killAt := time.Now()
	A.kill(t)
	seen := map[string]time.Duration{}
	var gone time.Duration // until B no longer lists A
	for deadline := killAt.Add(15 * time.Second); len(seen) < 2 || gone == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s: LIVE_INACTIVE seen by %v, A unlisted after %v", seen, gone)
		}
		for _, n := range []*clusterNode{B, C} {
			if _, ok := seen[n.id]; ok {
				continue
			}
			var r roomJSON
			if code, err := n.a.request("GET", fmt.Sprintf("/v2/apps/me/video-rooms/%d", room.ID), nil, &r); err == nil &&
				code == 200 && r.VideoRoomState == "LIVE_INACTIVE" {
				seen[n.id] = time.Since(killAt)
			}
		}
		if gone == 0 {
			if ns := B.nodes(); ns != nil && !slices.Contains(nodeIDs(ns), A.id) {
				gone = time.Since(killAt)
			}
		}
		time.Sleep(clusterPoll)
	}
	report(t, "NODE_LOST: room LIVE_INACTIVE seen by B %v, by C %v after kill -9 of A (ttl %v, polled every %v)",
		seen[B.id].Round(time.Millisecond), seen[C.id].Round(time.Millisecond), clusterNodeTTL, clusterPoll)
	report(t, "A unlisted by GET /v2/cluster/nodes on B %v after the kill", gone.Round(time.Millisecond))
	for id, d := range seen {
		if d > clusterNodeTTL+time.Second {
			t.Errorf("%s saw the room LIVE_INACTIVE %v after the kill, want within ttl+1s = %v", id, d, clusterNodeTTL+time.Second)
		}
	}
	if st := C.a.key("host").StreamKeyState; st != "INACTIVE_LIVE" {
		t.Errorf("key after NODE_LOST: %s, want INACTIVE_LIVE", st)
	}
	if r := B.a.room(room.ID); r.PlayURL != nil {
		t.Errorf("playUrl while LIVE_INACTIVE: %s", str(r.PlayURL))
	}

	// 6. The balancer now sends the encoder, which keeps reconnecting, to B: LIVE
	// again with session 2 and a new playUrl.
	switchAt := time.Now()
	front.setTarget(B.rtmpAddr)
	var r2 roomJSON
	for r2.VideoRoomState != "LIVE" {
		if time.Since(switchAt) > 15*time.Second {
			t.Fatalf("room not LIVE on B 15 s after the encoder was sent there: %+v", r2)
		}
		time.Sleep(clusterPoll)
		r2 = B.a.room(room.ID)
	}
	report(t, "room LIVE again on B %v after the ingest address pointed at B (encoder reconnect delay 300ms)",
		time.Since(switchAt).Round(time.Millisecond))
	if r2.LastSessionNo != 2 || r2.PlayURL == nil || *r2.PlayURL == play1 || !strings.Contains(*r2.PlayURL, "/2/") {
		t.Fatalf("resumed room: session %d playUrl %s (session 1: %s)", r2.LastSessionNo, str(r2.PlayURL), play1)
	}
	t.Logf("session 2 playUrl %s", *r2.PlayURL)
	// A LIVE room's play URLs name the node that ingests its session.
	if !strings.HasPrefix(play1, "http://"+A.httpAddr+"/") || !strings.HasPrefix(*r2.PlayURL, "http://"+B.httpAddr+"/") {
		t.Errorf("play URLs do not name the ingesting node: session 1 %s (A is %s), session 2 %s (B is %s)",
			play1, A.httpAddr, *r2.PlayURL, B.httpAddr)
	}
	if r := C.a.room(room.ID); r.VideoRoomState != "LIVE" || r.LastSessionNo != 2 {
		t.Errorf("room read on C: %s session %d", r.VideoRoomState, r.LastSessionNo)
	}
	master2 := B.a.base + regexp.MustCompile(`^https?://[^/]+`).ReplaceAllString(*r2.PlayURL, "") + "?streamingToken=" + hostTok.StreamingToken
	waitSegments(t, 10*time.Second, master2, 1, "session 2 playlist on B")
	eventually(t, 10*time.Second, "B registered with one publisher, the room's session 2", func() bool {
		for _, e := range C.nodes() {
			if e.ID == B.id {
				return e.Publishers == 1 && slices.Equal(e.Sessions, []string{room.UUID + "/2"})
			}
		}
		return false
	})

	// 7. An etcd member killed: a follower, then (the follower back) the leader.
	// Publishing on B continues, an API write works, events flow.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader, err := etcd.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower := (leader + 1) % 3
	for phase, victim := range []int{follower, -1} {
		what := "follower"
		if phase == 1 {
			if leader, err = etcd.Leader(ctx); err != nil {
				t.Fatal(err)
			}
			victim, what = leader, "leader"
		}
		segs := waitSegments(t, 10*time.Second, master2, 1, "B's playlist")
		killAt := time.Now()
		etcd.Kill(victim)
		// The write goes to C, its read to B: an idempotent upsert, retried as a
		// client does through a leader election.
		user := "after-" + what
		code, failed := C.a.retry("POST", "/members", map[string]any{"appUserId": user}, nil)
		if code >= 300 {
			t.Fatalf("member upsert on C with the etcd %s down: %d", what, code)
		}
		report(t, "etcd %s (member %d) killed: first API write answered %d after %v, %d failed attempts",
			what, victim, code, time.Since(killAt).Round(time.Millisecond), failed)
		if code := B.a.do("GET", "/members/"+user, nil, nil); code != 200 {
			t.Errorf("member written on C not read on B at once: %d", code)
		}
		// An event-producing write: an admin chat message (retried like the write
		// above; a retry of a request that did commit would send it twice, which
		// the webhook order check below would show).
		text := "etcd " + what + " down"
		msgAt := time.Now()
		if code, _ := C.a.retry("POST", fmt.Sprintf("/video-rooms/%d/chat-room/admin/messages/broadcast", room.ID),
			map[string]any{"messageType": "MESSAGE", "message": text}, nil); code != 201 {
			t.Fatalf("chat broadcast with the etcd %s down: %d", what, code)
		}
		hasText := func(s *sseClient) bool {
			_, _, texts := roomFrames(s.received(), room.ID)
			return slices.Contains(texts, text)
		}
		eventually(t, 15*time.Second, "the chat event on both SSE streams", func() bool { return hasText(sseB) && hasText(sseC) })
		eventually(t, 15*time.Second, "the chat event's webhook", func() bool {
			for _, ev := range hooks.decoded() {
				if ev.Event == "chat.message_sent" && ev.Payload.ChatMessage != nil && ev.Payload.ChatMessage.Message == text {
					return true
				}
			}
			return false
		})
		report(t, "etcd %s down: chat event on SSE (B, C) and webhook %v after the write", what, time.Since(msgAt).Round(time.Millisecond))
		waitSegments(t, 15*time.Second, master2, segs+3, "B's playlist growing")
		report(t, "etcd %s down: B's HLS playlist grew by 3 segments %v after the kill", what, time.Since(killAt).Round(time.Millisecond))
		if r := B.a.room(room.ID); r.VideoRoomState != "LIVE" || r.LastSessionNo != 2 {
			t.Fatalf("room with the etcd %s down: %s session %d", what, r.VideoRoomState, r.LastSessionNo)
		}
		restartAt := time.Now()
		if err := etcd.Restart(victim); err != nil {
			t.Fatal(err)
		}
		report(t, "etcd member %d restarted and caught up in %v", victim, time.Since(restartAt).Round(time.Millisecond))
	}
	if n := enc.ended.Load(); n == 0 {
		t.Errorf("the encoder never saw its publish end on A's death")
	} else {
		t.Logf("encoder: %d publish attempts ended (A's death and refusals until B took it)", n)
	}

	// 8. The encoder stops; the room ends through C. Every webhook arrived once, in
	// order; both SSE streams carried the same events.
	enc.stop()
	eventually(t, 10*time.Second, "LIVE_INACTIVE after unpublish (read on C)", func() bool {
		return C.a.room(room.ID).VideoRoomState == "LIVE_INACTIVE"
	})
	var ended roomJSON
	if code := C.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", room.ID), nil, &ended); code != 200 ||
		ended.VideoRoomState != "ENDED" {
		t.Fatalf("end on C: %d %+v", code, ended)
	}
	want := []string{
		"stream_key.publish_started", "video_room.live", "stream_key.publish_stopped", "video_room.live_inactive",
		"stream_key.publish_started", "video_room.live", "chat.message_sent", "chat.message_sent",
		"stream_key.publish_stopped", "video_room.live_inactive", "video_room.ended",
	}
	flow := func() []hookEvent {
		var out []hookEvent
		for _, ev := range hooks.decoded() {
			if broadcastFlow[ev.Event] {
				out = append(out, ev)
			}
		}
		return out
	}
	names := func(evs []hookEvent) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.Event)
		}
		return out
	}
	eventually(t, 20*time.Second, "the room's webhooks up to video_room.ended", func() bool {
		return slices.Contains(names(flow()), "video_room.ended")
	})
	got := flow()
	if !slices.Equal(names(got), want) {
		t.Errorf("webhooks of the room, in arrival order:\n got %v\nwant %v", names(got), want)
	} else {
		if got[2].Payload.Reason != "NODE_LOST" {
			t.Errorf("first publish_stopped reason %q, want NODE_LOST", got[2].Payload.Reason)
		}
		for i, ev := range got[1:] {
			id := ev.Payload.VideoRoomID
			if ev.Payload.VideoRoom != nil {
				id = &ev.Payload.VideoRoom.ID
			}
			if id == nil || *id != room.ID {
				t.Errorf("webhook %d (%s) is not about room %d", i+1, ev.Event, room.ID)
			}
		}
	}
	if d := hooks.duplicates(); len(d) > 0 {
		t.Errorf("webhook events delivered more than once (id → extra deliveries): %v", d)
	}
	report(t, "webhooks: %d events received, %d duplicate deliveries", len(hooks.received()), len(hooks.duplicates()))
	t.Logf("webhook events in arrival order: %v", hooks.received())
	// VOD archiving in a cluster is not part of this flow's contract (session 1's
	// media died with A): its outcome is reported, not asserted.
	var vod vodJSON
	eventually(t, 30*time.Second, "VOD archiving finished", func() bool {
		vod = B.a.vod(room.ID)
		return vod.VODState == "ARCHIVED" || vod.VODState == "FAILED_ARCHIVING"
	})
	report(t, "VOD after the end through C: %s", vod.VODState)

	// Both SSE streams carry the same events of the room, with the same ids. Events
	// after the end (VOD archiving) may still be on their way to one stream: the
	// two are compared once they agree or 10 s passed.
	var idsB, idsC, statesB, statesC []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(clusterPoll) {
		idsB, statesB, _ = roomFrames(sseB.received(), room.ID)
		idsC, statesC, _ = roomFrames(sseC.received(), room.ID)
		if slices.Contains(statesB, "ENDED") && slices.Equal(idsB, idsC) || time.Now().After(deadline) {
			break
		}
	}
	if !slices.Equal(idsB, idsC) {
		t.Errorf("SSE ids of the room differ:\n B %v\n C %v", idsB, idsC)
	}
	for name, ids := range map[string][]string{"B": idsB, "C": idsC} {
		for i := 1; i < len(ids); i++ {
			prev, _ := strconv.ParseUint(ids[i-1], 10, 64)
			if cur, err := strconv.ParseUint(ids[i], 10, 64); err != nil || cur <= prev {
				t.Errorf("SSE ids on %s not increasing (a repeat or a step back): %v", name, ids)
				break
			}
		}
	}
	// The room transitions up to the end (VOD signals repeat ENDED after it).
	wantStates := []string{"LIVE", "LIVE_INACTIVE", "LIVE", "LIVE_INACTIVE", "ENDED"}
	for name, st := range map[string][]string{"B": statesB, "C": statesC} {
		if i := slices.Index(st, "ENDED"); i >= 0 {
			st = st[:i+1]
		}
		if !slices.Equal(st, wantStates) {
			t.Errorf("SSE room states on %s: %v, want %v", name, st, wantStates)
		}
	}
	// Last-Event-ID replays on any node: a browser that saw the room's first event
	// on B reconnects to C and gets the rest, with the same ids.
	if len(idsB) > 1 {
		replay := newSSEClientAfter(t, "sse-replay@C", C.a.base+"/v2/members/me/event-sources", viewerTok.AccessToken, idsB[0])
		var got []string
		eventually(t, 10*time.Second, "the replay on C", func() bool {
			got, _, _ = roomFrames(replay.received(), room.ID)
			return len(got) >= len(idsB)-1
		})
		if !slices.Equal(got[:len(idsB)-1], idsB[1:]) {
			t.Errorf("replay on C after id %s: %v, want %v", idsB[0], got, idsB[1:])
		}
		report(t, "Last-Event-ID %s replayed on C: %d events of the room, the same ids as B", idsB[0], len(got))
	}
	for _, s := range []*sseClient{sseB, sseC} {
		ids, _, _ := roomFrames(s.received(), room.ID)
		for _, f := range s.received() {
			if f.Event == "reset" {
				t.Errorf("%s got a reset: %s", s.name, f.Data)
			}
		}
		n, lastErr := s.stats()
		report(t, "%s: %d events of the room, %d reconnects (last error %v)", s.name, len(ids), n, lastErr)
	}
}

// TestClusterForceEndAndDeadlines: what one node commits, the node with the
// stream carries out, and a deadline survives the node that armed it.
//   - A publish ingested by A, a forced end through B: A disconnects the encoder
//     (the transition was committed on B, only A holds the connection).
//   - A room with autoEnd (inactiveSeconds 4) goes LIVE_INACTIVE on B, which arms
//     the deadline, and B is killed: the room still ends (AUTO_END), through the
//     deadline leader's sweep on a surviving node.
func TestClusterForceEndAndDeadlines(t *testing.T) {
	if testing.Short() {
		t.Skip("real etcd members and roomcast processes, broadcasting in real time")
	}
	bin := buildRoomcast(t)
	_, nodes := startThreeNodes(t, bin)
	A, B, C := nodes[0], nodes[1], nodes[2]
	for _, u := range []string{"host", "host2"} {
		if code := A.a.do("POST", "/members", map[string]any{"appUserId": u}, nil); code >= 300 {
			t.Fatalf("create member %s: %d", u, code)
		}
	}
	newRoom := func(user string, extra map[string]any) roomJSON {
		body := map[string]any{"appUserId": user, "type": "BROADCAST_RTMP", "title": "t",
			"scheduledAt": "2030-01-01T00:00:00Z"}
		maps.Copy(body, extra)
		var r roomJSON
		if code := A.a.do("POST", "/video-rooms", body, &r); code >= 300 {
			t.Fatalf("create room: %d", code)
		}
		return r
	}

	// Forced end through B of a publish on A.
	room := newRoom("host", nil)
	enc := publish(t, "rtmp://"+A.rtmpAddr+"/live/{key}?mode=CMAF", A.a.key("host").StreamKey)
	eventually(t, 10*time.Second, "key publishing (read on B)", func() bool { return B.a.key("host").StreamKeyState == "ACTIVE" })
	if code := B.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", room.ID), nil, nil); code != 200 {
		t.Fatalf("live through B: %d", code)
	}
	var ended roomJSON
	t0 := time.Now()
	if code := B.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", room.ID),
		map[string]any{"force": true}, &ended); code != 200 || ended.VideoRoomState != "ENDED" {
		t.Fatalf("forced end through B: %d %+v", code, ended)
	}
	eventually(t, 10*time.Second, "A disconnects the encoder", func() bool { return enc.ended.Load() > 0 })
	report(t, "forced end through B: the encoder on A disconnected %v after the call", time.Since(t0).Round(time.Millisecond))
	enc.stop()

	// autoEnd armed by B, B killed.
	room2 := newRoom("host2", map[string]any{"autoEnd": map[string]any{"inactiveSeconds": 4}})
	key2 := A.a.key("host2").StreamKey
	enc2 := publish(t, "rtmp://"+B.rtmpAddr+"/live/{key}?mode=CMAF", key2)
	eventually(t, 10*time.Second, "key2 publishing", func() bool { return A.a.key("host2").StreamKeyState == "ACTIVE" })
	if code := B.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", room2.ID), nil, nil); code != 200 {
		t.Fatalf("live through B: %d", code)
	}
	enc2.stop() // B commits LIVE_INACTIVE and arms the autoEnd deadline
	eventually(t, 10*time.Second, "LIVE_INACTIVE", func() bool {
		return C.a.room(room2.ID).VideoRoomState == "LIVE_INACTIVE"
	})
	inactiveAt := time.Now()
	B.kill(t)
	eventually(t, 30*time.Second, "the room ended by autoEnd after its node died", func() bool {
		return C.a.room(room2.ID).VideoRoomState == "ENDED"
	})
	report(t, "autoEnd (4 s) armed on B, B killed: room ENDED %v after it went LIVE_INACTIVE",
		time.Since(inactiveAt).Round(time.Millisecond))
}

// TestClusterEdgePlayback: any node serves any live session with the same URL.
// A publish on A is played through B and C by path: the playlists grow on both,
// ffmpeg plays 75 s through C (past the edge cache lifetime), and B's many
// concurrent viewers of one part make one fetch from A. The added latency of
// the edge hop is measured.
func TestClusterEdgePlayback(t *testing.T) {
	if testing.Short() {
		t.Skip("real etcd members and roomcast processes, broadcasting in real time")
	}
	requireFFmpeg(t)
	bin := buildRoomcast(t)
	_, nodes := startThreeNodes(t, bin)
	A, B, C := nodes[0], nodes[1], nodes[2]
	room, token, key := newClusterRoom(t, A, "edge")
	enc := publish(t, "rtmp://"+A.rtmpAddr+"/live/{key}?mode=CMAF", key)
	defer enc.stop()
	eventually(t, 10*time.Second, "key publishing", func() bool { return A.a.key("host").StreamKeyState == "ACTIVE" })
	if code := C.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", room.ID), nil, nil); code != 200 {
		t.Fatalf("live: %d", code)
	}
	path := "/live/" + room.UUID + "/1/index.m3u8?streamingToken=" + token
	for _, n := range []*clusterNode{A, B, C} {
		waitSegments(t, 15*time.Second, n.a.base+path, 2, "the session's playlist through "+n.id)
	}

	// ffmpeg plays the session through C for more than a minute (past the edge
	// cache's lifetime), as a viewer behind a load balancer would, while the
	// checks below run.
	const ffmpegSeconds = 75
	ffmpegWait := ffmpegPlay(C.a.base+path, ffmpegSeconds)
	defer func() {
		played, err := ffmpegWait()
		if err != nil {
			t.Errorf("ffmpeg through C: %v", err)
			return
		}
		report(t, "ffmpeg played %.1f s of A's session through C", played)
		if played < ffmpegSeconds-1 {
			t.Errorf("ffmpeg through C played %.1f s, want %d s", played, ffmpegSeconds)
		}
	}()

	// hls.js through B and dash.js (low latency) through C, in headless Chromium;
	// the same from A for comparison.
	mpd := strings.Replace(path, "index.m3u8", "index.mpd", 1)
	for _, via := range []struct {
		name string
		hls  *clusterNode
		dash *clusterNode
	}{{"edge", B, C}, {"holder", A, A}} {
		for _, p := range playInBrowsers(t, via.hls.a.base+path, via.dash.a.base+mpd) {
			report(t, "%s from the %s (%s): played %.1f s in %.1f s, %dpx wide, latency %v, errors %v",
				p.Kind, via.name, map[string]string{"hls": via.hls.id, "dash-ll": via.dash.id}[p.Kind],
				p.Advanced, p.WallMs/1000, p.VideoWidth, p.latency(), p.Errors)
			if p.Advanced < 8 || p.VideoWidth == 0 || len(p.Errors) > 0 {
				t.Errorf("%s from the %s: played %.1f s of 12, %dpx, errors %v", p.Kind, via.name, p.Advanced, p.VideoWidth, p.Errors)
			}
		}
	}

	// One part, many viewers on B: one fetch from A.
	media, _ := getOK(B.a.base + path)
	var playlist string
	for _, l := range strings.Split(media, "\n") {
		if !strings.HasPrefix(l, "#") && strings.HasSuffix(strings.SplitN(l, "?", 2)[0], ".m3u8") {
			playlist = l
			break
		}
	}
	body, why := getOK(B.a.base + "/live/" + room.UUID + "/1/" + playlist)
	if why != "" {
		t.Fatalf("media playlist through B: %s", why)
	}
	var part string
	for _, m := range regexp.MustCompile(`URI="([^"]+_p\d+\.m4s[^"]*)"`).FindAllStringSubmatch(body, -1) {
		part = m[1]
	}
	if part == "" || !strings.Contains(part, "sig=") {
		t.Fatalf("no signed part in the playlist through B:\n%s", body)
	}
	before := edgeFetches(t, B)
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if _, why := getOK(B.a.base + "/live/" + room.UUID + "/1/" + part); why != "" {
				t.Errorf("part through B: %s", why)
			}
		})
	}
	wg.Wait()
	if d := edgeFetches(t, B) - before; d > 1 {
		t.Errorf("30 viewers of one part on B made %v fetches from A, want at most 1", d)
	}

	// The edge hop's added latency: the same parts, from A and through B (B's
	// cache defeated by asking each part once, in a fresh order of arrival).
	parts := regexp.MustCompile(`URI="([^"]+_p\d+\.m4s[^"]*)"`).FindAllStringSubmatch(body, -1)
	var direct, hop []time.Duration
	for i, m := range parts {
		if i%2 == 0 {
			direct = append(direct, timeGet(t, A.a.base+"/live/"+room.UUID+"/1/"+m[1]))
		} else {
			hop = append(hop, timeGet(t, C.a.base+"/live/"+room.UUID+"/1/"+m[1]))
		}
	}
	if len(direct) > 2 && len(hop) > 2 {
		report(t, "part fetch p50: from A %v, through C (one edge hop, uncached) %v (%d and %d parts)",
			percentile(direct, 50), percentile(hop, 50), len(direct), len(hop))
	}
}

// ffmpegPlay plays url with ffmpeg for at most seconds of media in the
// background; wait returns how many seconds it played (its -progress output) or
// its error with the tail of its output.
func ffmpegPlay(url string, seconds int) (wait func() (float64, error)) {
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-progress", "pipe:1",
			"-i", url, "-t", strconv.Itoa(seconds), "-f", "null", "-")
		cmd.Stdout, cmd.Stderr = &out, &out
		done <- cmd.Run()
	}()
	return func() (float64, error) {
		if err := <-done; err != nil {
			return 0, fmt.Errorf("ffmpeg %s: %w\n%s", url, err, outputTail(out.String(), 20))
		}
		played := 0.0
		for _, m := range regexp.MustCompile(`out_time_us=(\d+)`).FindAllStringSubmatch(out.String(), -1) {
			us, _ := strconv.ParseFloat(m[1], 64)
			played = us / 1e6
		}
		return played, nil
	}
}

// newClusterRoom creates, through n, the member "host" and a BROADCAST_RTMP room
// of theirs, and returns the room, a streaming token of the host and the host's
// stream key.
func newClusterRoom(t *testing.T, n *clusterNode, title string) (roomJSON, string, string) {
	t.Helper()
	if code := n.a.do("POST", "/members", map[string]any{"appUserId": "host"}, nil); code >= 300 {
		t.Fatalf("create member: %d", code)
	}
	var room roomJSON
	if code := n.a.do("POST", "/video-rooms", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP",
		"title": title, "scheduledAt": "2030-01-01T00:00:00Z"}, &room); code >= 300 {
		t.Fatalf("create room: %d", code)
	}
	var tok struct {
		StreamingToken string `json:"streamingToken"`
	}
	if code := n.a.do("POST", "/members/host/tokens", map[string]any{}, &tok); code >= 300 {
		t.Fatalf("member token: %d", code)
	}
	return room, tok.StreamingToken, n.a.key("host").StreamKey
}

// edgeFetches reads n's roomcast_edge_requests_total{result="fetch"}.
func edgeFetches(t *testing.T, n *clusterNode) float64 {
	body, why := getOK(n.a.base + "/metrics")
	if why != "" {
		t.Fatalf("metrics of %s: %s", n.id, why)
	}
	m := regexp.MustCompile(`(?m)^roomcast_edge_requests_total\{result="fetch"\} (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// timeGet returns how long a GET of u took (failing the test on an error).
func timeGet(t *testing.T, u string) time.Duration {
	t0 := time.Now()
	if _, why := getOK(u); why != "" {
		t.Fatalf("GET %s: %s", u, why)
	}
	return time.Since(t0)
}

// browserPlay is one result line of e2e/play.mjs.
type browserPlay struct {
	Kind          string   `json:"kind"`
	Advanced      float64  `json:"advanced"`
	WallMs        float64  `json:"wallMs"`
	VideoWidth    int      `json:"videoWidth"`
	LatencyMedian *float64 `json:"latencyMedian"`
	Errors        []any    `json:"errors"`
}

func (p browserPlay) latency() string {
	if p.LatencyMedian == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*p.LatencyMedian, 'f', 2, 64) + " s"
}

// playInBrowsers plays an HLS URL with hls.js and an MPD with dash.js (low
// latency) for 12 s each in headless Chromium, with the e2e suite's play.mjs
// (its npm packages come from `make e2e-deps`, which `make e2e` runs first).
func playInBrowsers(t *testing.T, hlsURL, mpdURL string) []browserPlay {
	t.Helper()
	return playWith(t, 2, "--hls", hlsURL, "--dash-ll", mpdURL)
}

// playWith runs play.mjs with args (12 s per player) and expects n results.
func playWith(t *testing.T, n int, args ...string) []browserPlay {
	t.Helper()
	dir, _ := filepath.Abs("../../e2e")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "hls.js")); err != nil {
		t.Fatalf("the browser players are not installed: run make e2e-deps (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"play.mjs", "--shots", t.TempDir(), "--seconds", "12"}, args...)...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("play.mjs: %v\n%s", err, stderr.String())
	}
	var res []browserPlay
	if err := json.Unmarshal(out, &res); err != nil || len(res) != n {
		t.Fatalf("play.mjs output %q: %v", out, err)
	}
	return res
}

// TestClusterBootSweep: a node that dies while no other node is up leaves its
// publish marked in the store with no live claim; the next node to start stops
// it (NODE_LOST), so the room can resume or end.
func TestClusterBootSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("real etcd members and roomcast processes")
	}
	bin := buildRoomcast(t)
	etcd := etcdtest.Start(t, 3)
	A := startClusterNode(t, bin, "node-a", etcd.AllEndpoints())
	eventually(t, 30*time.Second, "node-a ready", A.ready)
	if code := A.a.do("POST", "/members", map[string]any{"appUserId": "host"}, nil); code >= 300 {
		t.Fatalf("create member: %d", code)
	}
	var room roomJSON
	if code := A.a.do("POST", "/video-rooms", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP",
		"title": "sweep", "scheduledAt": "2030-01-01T00:00:00Z"}, &room); code >= 300 {
		t.Fatalf("create room: %d", code)
	}
	enc := publish(t, "rtmp://"+A.rtmpAddr+"/live/{key}?mode=CMAF", A.a.key("host").StreamKey)
	defer enc.stop()
	eventually(t, 10*time.Second, "key publishing", func() bool { return A.a.key("host").StreamKeyState == "ACTIVE" })
	if code := A.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", room.ID), nil, nil); code != 200 {
		t.Fatalf("live: %d", code)
	}
	A.kill(t)
	cli := etcd.Client(t)
	eventually(t, 3*clusterNodeTTL, "node-a's claims expired", func() bool {
		resp, err := cli.Get(context.Background(), "/roomcast/cluster/hold/publish/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		return err == nil && resp.Count == 0
	})

	B := startClusterNode(t, bin, "node-b", etcd.AllEndpoints())
	eventually(t, 30*time.Second, "node-b ready", B.ready)
	if r := B.a.room(room.ID); r.VideoRoomState != "LIVE_INACTIVE" {
		t.Fatalf("room after node-b started: %s, want LIVE_INACTIVE (stopped by the boot sweep)", r.VideoRoomState)
	}
	if st := B.a.key("host").StreamKeyState; st != "INACTIVE_LIVE" {
		t.Fatalf("key after node-b started: %s, want INACTIVE_LIVE", st)
	}
}
