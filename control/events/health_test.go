package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/internal/testwait"
	"github.com/roomcast/roomcast/publish"
)

// TestSSEHealthToKeyOwner: stream health signals reach the stream key's owner
// over SSE, joined to the room or not, live and by Last-Event-ID replay, and no
// other member of the room's channel.
func TestSSEHealthToKeyOwner(t *testing.T) {
	e := start(t, "", nil)
	a := e.newApp("a")
	host, viewer := e.newMember(a, "host"), e.newMember(a, "viewer")
	room := e.newRoom(a, host, nil)
	e.join(viewer, room)
	hc, _ := e.openSSE(host.Access, "")
	vc, _ := e.openSSE(viewer.Access, "")
	testwait.Until(t, 10*time.Second, "subscribed", func() bool { return e.broker.Stats().SSEClients == 2 })
	e.publish(host)
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", a.auth, nil)
	if _, s := vc.nextState(t); s != "LIVE" {
		t.Fatalf("viewer: %s", s)
	}

	e.ctl.StreamHealthChanged([]publish.HealthChange{
		{StreamID: publish.StreamID(host.KeyID), Warning: publish.WarnBitrateLow, Value: 80, Threshold: 300},
		{StreamID: publish.StreamID(host.KeyID), Warning: publish.WarnBitrateLow, Resolved: true,
			Cause: publish.CauseRecovered, Value: 900, Threshold: 300},
	})
	type signal struct {
		DeliveryType string                  `json:"deliveryType"`
		CustomType   string                  `json:"customType"`
		ChannelID    uint64                  `json:"channelId"`
		CustomData   events.HealthSignalData `json:"customData"`
	}
	read := func(c *sseClient) (string, signal) {
		m := c.next(t)
		var s signal
		if err := json.Unmarshal([]byte(m.Data), &s); err != nil {
			t.Fatalf("%q: %v", m.Data, err)
		}
		return m.ID, s
	}
	id1, s1 := read(hc)
	_, s2 := read(hc)
	if s1.DeliveryType != "DIRECT" || s1.CustomType != "STREAM_HEALTH" || s1.ChannelID != room ||
		s1.CustomData.Event != events.EventHealthBitrateLow || s1.CustomData.Resolved || s1.CustomData.Cause != nil ||
		s1.CustomData.VideoRoomID == nil || s1.CustomData.Value != 80 {
		t.Errorf("raised: %+v", s1)
	}
	if s2.CustomData.Event != events.EventHealthBitrateLowResolved || !s2.CustomData.Resolved ||
		s2.CustomData.Cause == nil || *s2.CustomData.Cause != "RECOVERED" {
		t.Errorf("resolved: %+v", s2)
	}
	// the viewer's next message is the next room transition, not a health signal
	e.unpublish(host, "CLIENT_UNPUBLISH")
	if _, s := vc.nextState(t); s != "LIVE_INACTIVE" {
		t.Fatalf("viewer after the health signals: %s", s)
	}
	// replay from the first signal: the second one again
	hc.close()
	hc2, _ := e.openSSE(host.Access, id1)
	if _, s := read(hc2); s.CustomData.Event != events.EventHealthBitrateLowResolved {
		t.Errorf("replay: %+v", s)
	}
}
