package ingest

import (
	"testing"
)

// TestPlayerStartStop: OnPlayerStart and OnPlayerStop report each RTMP player of
// a room once, for as long as its connection lasts; refused players are not
// reported.
func TestPlayerStartStop(t *testing.T) {
	t.Parallel()
	players := map[string]int{} // room → started − stopped, under h.mu
	var h *harness
	h = newHarness(t, func(s *Server) {
		s.OnPlayerStart = func(room string) {
			h.mu.Lock()
			players[room]++
			h.mu.Unlock()
			h.notify()
		}
		s.OnPlayerStop = func(room string) {
			h.mu.Lock()
			players[room]--
			h.mu.Unlock()
			h.notify()
		}
	})
	pub := publishClient(t, h, "key1?mode=RTMP")
	head, _ := splitHeaders(t, readTags(t, "h264_aac.flv"))
	if err := pub.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	st := h.stream("1")
	var clients []*rtmpClient
	for range 5 {
		c := dialRTMP(t, h.addr())
		if !c.connect("play") || c.play("room-1?streamingToken=good") == "NetStream.Play.Failed" {
			t.Fatal("player refused")
		}
		clients = append(clients, c)
	}
	refused := dialRTMP(t, h.addr())
	if refused.connect("play") && refused.play("room-1?streamingToken=bad") != "NetStream.Play.Failed" {
		t.Fatal("player with a bad token accepted")
	}
	h.wait("5 players", func() bool { return players["room-1"] == 5 && st.ReaderCount() == 5 })
	for _, c := range clients[:2] {
		c.close()
	}
	h.wait("2 players gone", func() bool { return players["room-1"] == 3 })
	pub.unpublish() // the broadcast is over (OnPlay no longer answers ErrStreamInactive)
	h.waitStop("1")
	h.wait("the others closed", func() bool { return players["room-1"] == 0 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(players) != 1 {
		t.Fatalf("players of other rooms: %v", players)
	}
}
