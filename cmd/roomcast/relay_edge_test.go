package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/internal/etcdtest"
)

// TestRelayEdgeAcrossNodes: two nodes of a cluster in this process, on a real
// etcd member, wired as roomcast runs them. A publish on A (mode RTMP) played
// by ffmpeg through B's RTMP address: B finds the session's node through the
// store and the registry, pulls it from A with the nodes' credential and relays
// it; a bad token on B is refused without a pull.
func TestRelayEdgeAcrossNodes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts an etcd member")
	}
	requireFFmpeg(t)
	etcd := etcdtest.Start(t, 1)
	node := func(id string) (*server, *api) {
		c := testConfig(t, filepath.Join(t.TempDir(), id))
		c.Store, c.EtcdEndpoints, c.NodeID, c.NodeTTL = "etcd", strings.Join(etcd.AllEndpoints(), ","), id, 2*time.Second
		c.HTTPAddr, c.RTMPAddr = freeAddr(t), freeAddr(t)
		c.PublicHTTPURL, c.PublicRTMPURL = "http://"+c.HTTPAddr, "rtmp://"+c.RTMPAddr
		c.NodeURL, c.NodeRTMPURL = defaultNodeURL(c.HTTPAddr, ""), defaultNodeRTMPURL(c.RTMPAddr, "")
		c.AppKey, c.AppSecret = "edgekey", "edgesecret-0123456789"
		c.SegmentDuration = time.Second
		if err := c.validate(); err != nil {
			t.Fatal(err)
		}
		s := startServer(t, c)
		t.Cleanup(s.Close)
		return s, &api{t: t, base: "http://" + s.HTTPAddr(), apiKey: c.AppKey, secret: c.AppSecret}
	}
	A, a := node("node-a")
	B, _ := node("node-b")
	if code := a.do("POST", "/members", map[string]any{"appUserId": "host"}, nil); code >= 300 {
		t.Fatalf("create member: %d", code)
	}
	var room roomJSON
	if code := a.do("POST", "/video-rooms", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP",
		"title": "edge", "scheduledAt": "2030-01-01T00:00:00Z"}, &room); code >= 300 {
		t.Fatalf("create room: %d", code)
	}
	var tok struct {
		StreamingToken string `json:"streamingToken"`
	}
	a.do("POST", "/members/host/tokens", map[string]any{}, &tok)
	enc := publish(t, "rtmp://"+A.RTMPAddr()+"/live/{key}?mode=RTMP", a.key("host").StreamKey)
	defer enc.stop()
	eventually(t, 10*time.Second, "key publishing", func() bool { return a.key("host").StreamKeyState == "ACTIVE" })
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", room.ID), nil, nil); code != 200 {
		t.Fatalf("live: %d", code)
	}
	eventually(t, 10*time.Second, "A in B's registry", func() bool {
		nodes, err := B.coord.Nodes(t.Context())
		return err == nil && len(nodes) == 2 && nodes[0].NodeRTMPURL == "rtmp://"+A.RTMPAddr()
	})

	bad := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-rw_timeout", "10000000",
		"-i", "rtmp://"+B.RTMPAddr()+"/play/"+room.UUID+"?streamingToken=bad", "-t", "1", "-f", "null", "-")
	if out, err := bad.CombinedOutput(); err == nil {
		t.Fatalf("ffmpeg with a bad token on B played:\n%s", out)
	}
	if st := B.ingest.EdgeStats(); st.Started != 0 {
		t.Fatalf("a refused player started %d pulls", st.Started)
	}

	out := filepath.Join(t.TempDir(), "edge.flv")
	cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error",
		"-i", "rtmp://"+B.RTMPAddr()+"/play/"+room.UUID+"?streamingToken="+tok.StreamingToken,
		"-t", "4", "-c", "copy", "-f", "flv", out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	eventually(t, 10*time.Second, "B pulling from A", func() bool {
		return B.ingest.EdgeStats().Upstreams == 1 && A.ingest.EdgeStats().Served == 1
	})
	if err := <-done; err != nil {
		t.Fatalf("ffmpeg through B: %v", err)
	}
	tags, err := flv.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var video, audio int
	for _, tg := range tags {
		switch tg.Type {
		case flv.TagVideo:
			video++
		case flv.TagAudio:
			audio++
		}
	}
	if video < 60 || audio < 60 {
		t.Fatalf("ffmpeg through B got %d video and %d audio tags in 4 s", video, audio)
	}
	eventually(t, 10*time.Second, "the pull ended with its player", func() bool {
		return B.ingest.EdgeStats().Upstreams == 0 && A.ingest.EdgeStats().Served == 0
	})
	t.Logf("ffmpeg through B: %d video and %d audio tags; B started %d pull(s)", video, audio, B.ingest.EdgeStats().Started)
}
