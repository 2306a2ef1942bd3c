package storage

import (
	"encoding/json"
	"time"
)

// Records are the values kept in the store. They are plain data: control converts
// them to API JSON at its boundary, ingest and packager read only what they need.
// Times are UTC; a zero time means "absent" (rendered as JSON null by control).

// App is a tenant. APISecretHash is SHA-256 of the API secret; the secret itself is
// never stored.
type App struct {
	ID            uint64    `json:"id"`
	Name          string    `json:"name"`
	APIKey        string    `json:"apiKey"`
	APISecretHash []byte    `json:"apiSecretHash"`
	CreatedAt     time.Time `json:"createdAt"`
	// Webhook settings (issue 6). Empty CallbackURL means no webhooks.
	CallbackURL    string   `json:"callbackUrl,omitempty"`
	CallbackEvents []string `json:"callbackEvents,omitempty"`
	CallbackSecret string   `json:"callbackSecret,omitempty"`
}

// Member is an end user of an app, unique per (AppID, AppUserID).
// TokenVersion is embedded in every token issued to the member; bumping it revokes
// all tokens issued before.
type Member struct {
	ID            uint64    `json:"id"`
	AppID         uint64    `json:"appId"`
	AppUserID     string    `json:"appUserId"`
	AppUserName   string    `json:"appUserName"`
	ProfileImgURL string    `json:"profileImgUrl"`
	TokenVersion  uint32    `json:"tokenVersion"`
	StreamKeyID   uint64    `json:"streamKeyId"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// StreamKey is the publish credential a member owns (exactly one per member).
// Secret is the URL-safe key value; it is indexed by SHA-256 so that publish looks it
// up without a scan, and callers compare it in constant time.
//
// The API's streamKeyState is derived from Publishing × (RoomID != 0):
// INACTIVE, ACTIVE, ACTIVE_LIVE, INACTIVE_LIVE.
type StreamKey struct {
	ID         uint64 `json:"id"`
	AppID      uint64 `json:"appId"`
	MemberID   uint64 `json:"memberId"`
	Secret     string `json:"secret"`
	Publishing bool   `json:"publishing"`
	// Mode of the current (or last) publish: CMAF, RTMP or RTMP_CMAF.
	Mode string `json:"mode"`
	// RoomID is the LIVE/LIVE_INACTIVE room the key is bound to, 0 if none.
	RoomID uint64 `json:"roomId"`
	// PublishSeq counts publishes of this key (1-based after the first publish).
	PublishSeq uint64    `json:"publishSeq"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// KeyValue is a customData entry of a room.
type KeyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Room is a VideoRoom. String enums hold the API spelling (e.g. VideoRoomState
// "LIVE_INACTIVE", VODState "NOT_ARCHIVED").
type Room struct {
	ID             uint64     `json:"id"`
	UUID           string     `json:"uuid"`
	AppID          uint64     `json:"appId"`
	MemberID       uint64     `json:"memberId"` // owner (host); 0 if created without a member
	State          string     `json:"state"`    // ACTIVE | DELETED
	Type           string     `json:"type"`
	Protocol       string     `json:"protocol"`
	Format         string     `json:"format"`
	AccessLevel    string     `json:"accessLevel"`
	CreatorType    string     `json:"creatorType"`
	CreatorID      string     `json:"creatorId"`
	Title          string     `json:"title"`
	Description    string     `json:"description"`
	CustomType     string     `json:"customType"`
	CustomData     []KeyValue `json:"customData"`
	PasswordHash   []byte     `json:"passwordHash,omitempty"`
	VideoRoomState string     `json:"videoRoomState"`
	VODState       string     `json:"vodState"`
	VODURL         string     `json:"vodUrl"`
	StreamKeyID    uint64     `json:"streamKeyId"`
	Mode           string     `json:"mode"` // publish mode of the live sessions
	LastSessionNo  int        `json:"lastSessionNo"`
	ChannelID      string     `json:"channelId"`
	ScheduledAt    time.Time  `json:"scheduledAt"`
	CancelledAt    time.Time  `json:"cancelledAt"`
	LiveStartedAt  time.Time  `json:"liveStartedAt"`
	LiveEndedAt    time.Time  `json:"liveEndedAt"`
	VODArchivedAt  time.Time  `json:"vodArchivedAt"`
	InactiveSince  time.Time  `json:"inactiveSince"`  // when the room last went LIVE_INACTIVE
	AutoEndSeconds int        `json:"autoEndSeconds"` // 0 = off
	WebhookURL     string     `json:"webhookUrl"`     // per-room webhook (seed 004)
	WebhookEvents  []string   `json:"webhookEvents"`  // per-room filter
	Sessions       []Session  `json:"sessions"`       // one per live session, in order
	CreatedAt      time.Time  `json:"createdAt"`
	LastModifiedAt time.Time  `json:"lastModifiedAt"`
	DeletedAt      time.Time  `json:"deletedAt"`
}

// Session is one uninterrupted publish while the room was LIVE (SPEC §3).
type Session struct {
	No        int       `json:"no"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt"`
}

// Event is one outbox record (SPEC §5 Events): written in the same transaction as
// the state change it describes, delivered after commit (SSE, webhooks) and
// deleted once every consumer has acknowledged it. Seq is assigned by
// Tx.AppendEvent from a bucket sequence, so it is unique and increasing across
// restarts and doubles as the SSE id.
type Event struct {
	Seq       uint64          `json:"seq"`
	AppID     uint64          `json:"appId"`
	RoomID    uint64          `json:"roomId"` // 0 for events not about a room
	Name      string          `json:"name"`   // e.g. "video_room.live"
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"createdAt"`
}
