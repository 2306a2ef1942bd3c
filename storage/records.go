package storage

import (
	"encoding/json"
	"time"
)

// Records are the values kept in the store. They are plain data: control converts
// them to API JSON at its boundary, ingest and packager read only what they need.
// Times are UTC; a zero time means "absent" (rendered as JSON null by control).
// The JSON tags describe the storage encoding only (not the API): zero fields are
// omitted to keep records small, which round-trips exactly.

// App is a tenant. APISecretHash is SHA-256 of the API secret; the secret itself is
// never stored.
type App struct {
	ID            uint64    `json:"id,omitzero"`
	Name          string    `json:"name,omitzero"`
	APIKey        string    `json:"apiKey,omitzero"`
	APISecretHash []byte    `json:"apiSecretHash,omitzero"`
	CreatedAt     time.Time `json:"createdAt,omitzero"`
	// Webhook settings (issue 6). Empty CallbackURL means no webhooks.
	CallbackURL    string   `json:"callbackUrl,omitzero"`
	CallbackEvents []string `json:"callbackEvents,omitzero"`
	CallbackSecret string   `json:"callbackSecret,omitzero"`
}

// Member is an end user of an app, unique per (AppID, AppUserID).
// TokenVersion is embedded in every token issued to the member; bumping it revokes
// all tokens issued before.
type Member struct {
	ID            uint64    `json:"id,omitzero"`
	AppID         uint64    `json:"appId,omitzero"`
	AppUserID     string    `json:"appUserId,omitzero"`
	AppUserName   string    `json:"appUserName,omitzero"`
	ProfileImgURL string    `json:"profileImgUrl,omitzero"`
	TokenVersion  uint32    `json:"tokenVersion,omitzero"`
	StreamKeyID   uint64    `json:"streamKeyId,omitzero"`
	CreatedAt     time.Time `json:"createdAt,omitzero"`
	UpdatedAt     time.Time `json:"updatedAt,omitzero"`
}

// StreamKey is the publish credential a member owns (exactly one per member).
// Secret is the URL-safe key value; it is indexed by SHA-256 so that publish looks it
// up without a scan, and callers compare it in constant time.
//
// The API's streamKeyState is derived from Publishing × (RoomID != 0):
// INACTIVE, ACTIVE, ACTIVE_LIVE, INACTIVE_LIVE.
type StreamKey struct {
	ID         uint64 `json:"id,omitzero"`
	AppID      uint64 `json:"appId,omitzero"`
	MemberID   uint64 `json:"memberId,omitzero"`
	Secret     string `json:"secret,omitzero"`
	Publishing bool   `json:"publishing,omitzero"`
	// Mode of the current (or last) publish: CMAF, RTMP or RTMP_CMAF.
	Mode string `json:"mode,omitzero"`
	// RoomID is the LIVE/LIVE_INACTIVE room the key is bound to, 0 if none.
	RoomID uint64 `json:"roomId,omitzero"`
	// PublishSeq counts publishes of this key (1-based after the first publish).
	PublishSeq uint64 `json:"publishSeq,omitzero"`
	// NodeHTTPURL and NodeRTMPURL are the public URLs of the node ingesting the
	// current (or last) publish: a cluster serves its live media there.
	NodeHTTPURL string    `json:"nodeHttpUrl,omitzero"`
	NodeRTMPURL string    `json:"nodeRtmpUrl,omitzero"`
	CreatedAt   time.Time `json:"createdAt,omitzero"`
	UpdatedAt   time.Time `json:"updatedAt,omitzero"`
}

// KeyValue is a customData entry of a room.
type KeyValue struct {
	Name  string `json:"name,omitzero"`
	Value string `json:"value,omitzero"`
}

// RoomState is whether a room record is live in the store or soft-deleted.
type RoomState string

// Room record states.
const (
	RoomActive  RoomState = "ACTIVE"
	RoomDeleted RoomState = "DELETED" // soft-deleted: kept for its unique indexes, never listed
)

// Room is a VideoRoom. String enums hold the API spelling (e.g. VideoRoomState
// "LIVE_INACTIVE", VODState "NOT_ARCHIVED").
type Room struct {
	ID             uint64     `json:"id,omitzero"`
	UUID           string     `json:"uuid,omitzero"`
	AppID          uint64     `json:"appId,omitzero"`
	MemberID       uint64     `json:"memberId,omitzero"` // owner (host); 0 if created without a member
	State          RoomState  `json:"state,omitzero"`
	Type           string     `json:"type,omitzero"`
	Protocol       string     `json:"protocol,omitzero"`
	Format         string     `json:"format,omitzero"`
	AccessLevel    string     `json:"accessLevel,omitzero"`
	CreatorType    string     `json:"creatorType,omitzero"`
	CreatorID      string     `json:"creatorId,omitzero"`
	Title          string     `json:"title,omitzero"`
	Description    string     `json:"description,omitzero"`
	CustomType     string     `json:"customType,omitzero"`
	CustomData     []KeyValue `json:"customData,omitzero"`
	PasswordHash   []byte     `json:"passwordHash,omitzero"`
	VideoRoomState string     `json:"videoRoomState,omitzero"`
	VODState       string     `json:"vodState,omitzero"`
	VODURL         string     `json:"vodUrl,omitzero"`
	StreamKeyID    uint64     `json:"streamKeyId,omitzero"`
	Mode           string     `json:"mode,omitzero"` // publish mode of the live sessions
	LastSessionNo  int        `json:"lastSessionNo,omitzero"`
	ChannelID      string     `json:"channelId,omitzero"`
	ScheduledAt    time.Time  `json:"scheduledAt,omitzero"`
	CancelledAt    time.Time  `json:"cancelledAt,omitzero"`
	LiveStartedAt  time.Time  `json:"liveStartedAt,omitzero"`
	LiveEndedAt    time.Time  `json:"liveEndedAt,omitzero"`
	VODArchivedAt  time.Time  `json:"vodArchivedAt,omitzero"`
	InactiveSince  time.Time  `json:"inactiveSince,omitzero"`  // when the room last went LIVE_INACTIVE
	AutoEndSeconds int        `json:"autoEndSeconds,omitzero"` // 0 = off
	// AutoCloseType and AutoCloseMinutes are the room's autoCloseConfig
	// ("session-ends" | "session-end-and-deactivate"; "" = none: the server's
	// maximum live duration applies).
	AutoCloseType    string `json:"autoCloseType,omitzero"`
	AutoCloseMinutes int    `json:"autoCloseMinutes,omitzero"`
	// PeakViewerCount is the most concurrent viewers of the broadcast, stored at
	// its state changes (LIVE_INACTIVE, ENDED) so that it outlives the process.
	PeakViewerCount int       `json:"peakViewerCount,omitzero"`
	WebhookURL      string    `json:"webhookUrl,omitzero"`    // per-room webhook
	WebhookEvents   []string  `json:"webhookEvents,omitzero"` // per-room filter
	Sessions        []Session `json:"sessions,omitzero"`      // one per live session, in order
	CreatedAt       time.Time `json:"createdAt,omitzero"`
	LastModifiedAt  time.Time `json:"lastModifiedAt,omitzero"`
	DeletedAt       time.Time `json:"deletedAt,omitzero"`
}

// Session is one uninterrupted publish while the room was LIVE.
type Session struct {
	No        int       `json:"no,omitzero"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	// HTTPURL and RTMPURL are the public URLs of the node that ingests the
	// session (empty: the node answering, one node).
	HTTPURL string `json:"httpUrl,omitzero"`
	RTMPURL string `json:"rtmpUrl,omitzero"`
}

// Event is one outbox record: written in the same transaction as
// the state change it describes, delivered after commit (SSE, webhooks) and
// deleted once every consumer has acknowledged it. Seq is assigned by
// Tx.AppendEvent from a bucket sequence, so it is unique and increasing across
// restarts and doubles as the SSE id.
type Event struct {
	Seq       uint64          `json:"seq,omitzero"`
	AppID     uint64          `json:"appId,omitzero"`
	RoomID    uint64          `json:"roomId,omitzero"` // 0 for events not about a room
	Name      string          `json:"name,omitzero"`   // e.g. "video_room.live"
	Payload   json.RawMessage `json:"payload,omitzero"`
	CreatedAt time.Time       `json:"createdAt,omitzero"`
}
