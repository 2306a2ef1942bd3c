package events

import (
	"time"

	"github.com/roomcast/roomcast/storage"
)

// DefaultRedeliveryWindow is how long a manual redelivery is retried.
const DefaultRedeliveryWindow = 24 * time.Hour

// NewRedelivery is a new PENDING delivery of d's event to d's destination (the
// same Roomcast-Event-Id), due now and retried for DefaultRedeliveryWindow. Put
// it in the transaction that checked d is finished and its event still kept;
// the lane queues it behind its pending deliveries.
func NewRedelivery(d storage.Delivery, now time.Time) storage.Delivery {
	return storage.Delivery{
		AppID: d.AppID, Kind: d.Kind, RoomID: d.RoomID, EventSeq: d.EventSeq, EventID: d.EventID,
		EventName: d.EventName, URL: d.URL, Status: storage.DeliveryPending, RedeliveryOf: d.ID,
		CreatedAt: now, NextAttemptAt: now, ExpiresAt: now.Add(DefaultRedeliveryWindow),
	}
}
