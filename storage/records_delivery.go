package storage

import "time"

// Delivery kinds: where a webhook delivery goes.
const (
	// DeliveryAppCallback goes to the app's callback URL (PUT /v2/apps/me/callback),
	// read again at each attempt.
	DeliveryAppCallback = "APP_CALLBACK"
	// DeliveryRoomWebhook goes to the room's webhook URL (set at room creation).
	DeliveryRoomWebhook = "ROOM_WEBHOOK"
)

// Delivery statuses.
const (
	// DeliveryPending is waiting for its first attempt or for a retry.
	DeliveryPending = "PENDING"
	// DeliveryDelivered got a 2xx answer.
	DeliveryDelivered = "DELIVERED"
	// DeliveryFailed gave up: its retry window passed, or its destination is gone.
	DeliveryFailed = "FAILED"
)

// Delivery is one webhook delivery of one outbox event to one destination, with
// its attempt history: the durable queue of the webhook dispatcher and the app's
// delivery log. Deliveries of one lane (AppID, Kind, RoomID) are attempted strictly
// in ID order: a PENDING delivery waits until every earlier one of its lane is
// DELIVERED or FAILED.
type Delivery struct {
	ID        uint64 `json:"id,omitzero"`
	AppID     uint64 `json:"appId,omitzero"`
	Kind      string `json:"kind,omitzero"`      // DeliveryAppCallback | DeliveryRoomWebhook
	RoomID    uint64 `json:"roomId,omitzero"`    // the event's room; 0 for events not about a room
	EventSeq  uint64 `json:"eventSeq,omitzero"`  // outbox Event.Seq
	EventID   string `json:"eventId,omitzero"`   // header Roomcast-Event-Id
	EventName string `json:"eventName,omitzero"` // e.g. "video_room.live"
	// URL is the destination when the delivery was created (room webhooks keep it;
	// app callbacks use the app's current URL at each attempt and record it here).
	URL            string    `json:"url,omitzero"`
	Status         string    `json:"status,omitzero"`
	Attempts       int       `json:"attempts,omitzero"`
	LastStatusCode int       `json:"lastStatusCode,omitzero"`
	LastError      string    `json:"lastError,omitzero"`
	RedeliveryOf   uint64    `json:"redeliveryOf,omitzero"` // manual redelivery of that delivery
	CreatedAt      time.Time `json:"createdAt,omitzero"`
	LastAttemptAt  time.Time `json:"lastAttemptAt,omitzero"`
	NextAttemptAt  time.Time `json:"nextAttemptAt,omitzero"` // PENDING only
	DeliveredAt    time.Time `json:"deliveredAt,omitzero"`
	ExpiresAt      time.Time `json:"expiresAt,omitzero"` // no retry after this
}
