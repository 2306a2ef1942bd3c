package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/internal/testwait"
	"github.com/roomcast/roomcast/publish"
)

// edgeCluster is several Servers on loopback playing the nodes of a cluster: a
// room is live while any node publishes its stream (or waits for its publisher
// while paused), and a node's Upstream names the node that publishes it, as
// cmd's room → session → node registry lookup does.
type edgeCluster struct {
	nodes []*harness

	mu     sync.Mutex
	paused map[string]bool // the room waits for its publisher
}

func newEdgeCluster(t *testing.T, n int) *edgeCluster {
	t.Helper()
	c := &edgeCluster{paused: map[string]bool{}}
	key := []byte("the cluster's edge key")
	for range n {
		c.nodes = append(c.nodes, newHarness(t, func(s *Server) {
			s.EdgeKey = key
			s.OnPlay = c.onPlay
			s.Upstream = func(_ context.Context, _ string, id publish.StreamID) (string, error) {
				return c.holder(s, id), nil
			}
		}))
	}
	return c
}

// onPlay authorizes as control does: the token, then the room's state.
func (c *edgeCluster) onPlay(_ context.Context, room, token string) (publish.StreamID, error) {
	id, ok := strings.CutPrefix(room, "room-")
	if !ok || token != "good" {
		return 0, errors.New("forbidden")
	}
	for _, n := range c.nodes {
		if n.reg.Lookup(id) != nil {
			return publish.ParseStreamID(id)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused[id] {
		return 0, ErrStreamInactive
	}
	return 0, errors.New("not live")
}

// holder is the RTMP base URL of the node other than self publishing id, or "".
func (c *edgeCluster) holder(self *Server, id publish.StreamID) string {
	for _, n := range c.nodes {
		if n.s != self && n.reg.Lookup(id.String()) != nil {
			return "rtmp://" + n.addr()
		}
	}
	return ""
}

func (c *edgeCluster) pause(id string, paused bool) {
	c.mu.Lock()
	c.paused[id] = paused
	c.mu.Unlock()
}

// firstVideo is how long after play the first video frame (not a sequence
// header) reached the player.
func firstVideo(t *testing.T, p *rtmpClient, start time.Time) time.Duration {
	t.Helper()
	p.waitFor("first video frame", func() bool {
		for _, m := range p.media {
			if m.Type == flv.TagVideo && len(m.Data) > 1 && m.Data[1] == 1 { // AVC NALU
				return true
			}
		}
		return false
	})
	return time.Since(start)
}

// TestEdgeRelayFollowsResume: a publish on node A played by RTMP players on node
// B, which pulls it from A over RTMP: all of B's players (five go-rtmp clients
// and a real ffmpeg) share one pull, a bad token on B is refused without a pull,
// a forged edge credential on A is refused. The publisher drops and resumes on
// another node (C, then B itself): B's players stay connected, follow it with
// timestamps that never go back, and get exactly the published units of both
// publishes; the end of the broadcast closes them after a flush, and every pull
// ends with them.
func TestEdgeRelayFollowsResume(t *testing.T) {
	for _, resumeOn := range []int{2, 1} {
		t.Run(fmt.Sprintf("resume on node %c", 'A'+resumeOn), func(t *testing.T) {
			t.Parallel()
			c := newEdgeCluster(t, 3)
			A, B := c.nodes[0], c.nodes[1]
			head, a, b := resumeParts(t)

			pub := publishClient(t, A, "key1?mode=RTMP")
			if err := pub.sendTags(head, false); err != nil {
				t.Fatal(err)
			}
			first := A.stream("1")

			bad := dialRTMP(t, B.addr())
			if bad.connect("play") && bad.play("room-1?streamingToken=bad") != "NetStream.Play.Failed" {
				t.Fatal("a bad token on B was accepted")
			}
			forged := dialRTMP(t, A.addr())
			cred := edgeCredential([]byte("not the cluster's key"), "room-1", 1, time.Now().Add(time.Minute))
			if forged.connect("play") && forged.play("room-1?edge="+cred) != "NetStream.Play.Failed" {
				t.Fatal("a forged edge credential on A was accepted")
			}
			if st := B.s.EdgeStats(); st.Started != 0 {
				t.Fatalf("refused players started %d pulls", st.Started)
			}

			wait := ffmpegPlay(t, B, "1")
			var players []*rtmpClient
			for range 5 {
				p := dialRTMP(t, B.addr())
				if !p.connect("play") || p.play("room-1?streamingToken=good") != "NetStream.Play.Reset" {
					t.Fatal("player on B refused")
				}
				players = append(players, p)
			}
			testwait.Until(t, 15*time.Second, "six players on B reading one pull", func() bool {
				return B.s.EdgeStats().Upstreams == 1 && first.ReaderCount() == 1 && // the pull (no packager here)
					A.s.EdgeStats().Served == 1 && pullReaders(B.s, 1) == 6
			})
			if err := sendScaled(pub, a, 10); err != nil {
				t.Fatal(err)
			}
			c.pause("1", true) // the room goes LIVE_INACTIVE
			pub.unpublish()
			A.waitStop("1")
			pub.close()
			testwait.Until(t, 15*time.Second, "the pull from A ended", func() bool {
				return B.s.EdgeStats().Upstreams == 0 && A.s.EdgeStats().Served == 0
			})

			R := c.nodes[resumeOn]
			pub2 := publishClient(t, R, "key1?mode=RTMP")
			if err := pub2.sendTags(head, false); err != nil {
				t.Fatal(err)
			}
			second := R.stream("1")
			if resumeOn == 1 {
				B.wait("B's players on the local publish", func() bool { return second.ReaderCount() == 6 })
			} else {
				testwait.Until(t, 15*time.Second, "B's players on a pull from C", func() bool {
					return B.s.EdgeStats().Upstreams == 1 && R.s.EdgeStats().Served == 1 && pullReaders(B.s, 1) == 6
				})
			}
			for _, p := range players {
				if err := p.closedErr(); err != nil {
					t.Fatalf("player closed while waiting: %v", err)
				}
			}
			if err := sendScaled(pub2, b, 10); err != nil {
				t.Fatal(err)
			}
			c.pause("1", false) // the room ends
			pub2.unpublish()
			for _, p := range players {
				if err := p.waitClosed(); err == nil {
					t.Fatal("player on B still open after the end")
				}
			}
			for i, p := range players {
				checkResumed(t, fmt.Sprintf("go-rtmp player %d on B", i), p.mediaTags(), head, a, b)
			}
			tags, err := flv.ReadFile(wait())
			if err != nil {
				t.Fatal(err)
			}
			checkResumed(t, "ffmpeg on B", tags, head, a, b)
			testwait.Until(t, 15*time.Second, "no pull left", func() bool {
				return B.s.EdgeStats().Upstreams == 0 && R.s.EdgeStats().Served == 0
			})
			want := int64(2)
			if resumeOn == 1 {
				want = 1
			}
			if st := B.s.EdgeStats(); st.Started != want {
				t.Fatalf("B started %d pulls for six players, want %d (one per publish on another node)", st.Started, want)
			}
		})
	}
}

// pullReaders is the number of readers of the pull of id on s (-1: none).
func pullReaders(s *Server, id publish.StreamID) int {
	s.edges.mu.Lock()
	p := s.edges.pulls[id]
	s.edges.mu.Unlock()
	if p == nil {
		return -1
	}
	select {
	case <-p.ready:
	default:
		return -1
	}
	if p.stream == nil {
		return -1
	}
	return p.stream.ReaderCount()
}

// TestEdgeRelayLastPlayerStopsPull: the pull lives as long as B has players of
// the stream; a new player afterwards starts a new one. Time to the first video
// frame is measured directly on A and through B.
func TestEdgeRelayLastPlayerStopsPull(t *testing.T) {
	t.Parallel()
	c := newEdgeCluster(t, 2)
	A, B := c.nodes[0], c.nodes[1]
	tags := readTags(t, "h264_aac.flv")
	head, rest := splitHeaders(t, tags)
	pub := publishClient(t, A, "key1?mode=RTMP")
	if err := pub.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	A.stream("1")
	stop, sent := make(chan struct{}), make(chan struct{})
	go func() { // in real time: a GOP is cached when the players come
		defer close(sent)
		start := time.Now()
		for _, tg := range rest {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(tg.Timestamp-rest[0].Timestamp)*time.Millisecond - time.Since(start)):
			}
			if pub.sendTag(tg) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-sent })

	var direct, edge []time.Duration
	for range 3 {
		start := time.Now()
		p := dialRTMP(t, A.addr())
		if !p.connect("play") || p.play("room-1?streamingToken=good") != "NetStream.Play.Reset" {
			t.Fatal("player on A refused")
		}
		direct = append(direct, firstVideo(t, p, start))
		p.close()

		start = time.Now()
		p = dialRTMP(t, B.addr())
		if !p.connect("play") || p.play("room-1?streamingToken=good") != "NetStream.Play.Reset" {
			t.Fatal("player on B refused")
		}
		edge = append(edge, firstVideo(t, p, start))
		p2 := dialRTMP(t, B.addr())
		if !p2.connect("play") || p2.play("room-1?streamingToken=good") != "NetStream.Play.Reset" {
			t.Fatal("second player on B refused")
		}
		firstVideo(t, p2, start)
		if st := B.s.EdgeStats(); st.Upstreams != 1 {
			t.Fatalf("two players on B: %d pulls", st.Upstreams)
		}
		p.close()
		p2.close()
		testwait.Until(t, 15*time.Second, "the pull ended with B's last player", func() bool {
			return B.s.EdgeStats().Upstreams == 0 && A.s.EdgeStats().Served == 0
		})
	}
	if st := B.s.EdgeStats(); st.Started != 3 {
		t.Fatalf("B started %d pulls, want 3 (one per round)", st.Started)
	}
	t.Logf("time to first video frame: on A %v, through B (new pull) %v", direct, edge)
}
