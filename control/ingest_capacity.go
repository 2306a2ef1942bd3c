package control

import (
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// capacityPayload is the webhook payload of ingest.concurrency_* events.
type capacityPayload struct {
	Current int `json:"current"`
	Limit   int `json:"limit"`
}

// IngestCapacity records an ingest capacity event (ingest's OnCapacity: event is
// events.EventIngestNearLimit at 80 % or events.EventIngestLimited at 100 % of the publisher
// limit). The event concerns the whole server: its AppID is 0, meaning every app.
// Unknown event names are logged and dropped.
func (c *Control) IngestCapacity(event string, current, limit int) {
	if event != events.EventIngestNearLimit && event != events.EventIngestLimited {
		c.Log.Warn("unknown ingest capacity event", "event", event)
		return
	}
	var ob events.Outbox
	err := c.Store.Update(func(tx *storage.Tx) error {
		ob = events.Outbox{}
		ev := events.Event{Name: event, Time: c.now().UTC()}
		return ob.Append(tx, ev, capacityPayload{Current: current, Limit: limit})
	})
	if err != nil {
		c.Log.Error("record ingest capacity event", "event", event, "err", err)
		return
	}
	c.Log.Warn("ingest capacity", "event", event, "current", current, "limit", limit)
	ob.Emit(c.Events)
}
