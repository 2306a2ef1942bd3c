package control

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/roomcast/roomcast/storage"
)

// CreateRoom stores a new SCHEDULED room owned by the member owner returns.
func (c *Control) CreateRoom(appID uint64, s RoomSpec, owner func(*storage.Tx) (storage.Member, error),
	creatorType string, creatorID uint64) (*RoomJSON, error) {
	var view *RoomJSON
	err := c.Store.Update(func(tx *storage.Tx) error {
		m, err := owner(tx)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrMemberNotFound
		}
		if err != nil {
			return fmt.Errorf("read member: %w", err)
		}
		now := c.now().UTC()
		r := storage.Room{
			UUID: uuid.NewString(), AppID: appID, MemberID: m.ID, State: storage.RoomActive,
			Type: string(s.Type), Protocol: s.Type.protocol(), Format: s.Type.format(),
			AccessLevel: string(s.AccessLevel), CreatorType: creatorType,
			CreatorID: strconv.FormatUint(creatorID, 10), Title: s.Title, Description: s.Description,
			CustomType: s.CustomType, CustomData: s.CustomData,
			VideoRoomState: string(VideoRoomStateScheduled), VODState: string(VODStateNotArchived),
			ScheduledAt: s.ScheduledAt, AutoEndSeconds: s.AutoEnd, CreatedAt: now, LastModifiedAt: now,
			AutoCloseType: s.AutoCloseType, AutoCloseMinutes: s.AutoCloseMinutes,
			WebhookURL: s.WebhookURL, WebhookEvents: s.WebhookEvents,
		}
		if s.Type == VideoRoomTypeBroadcastRTMP {
			r.StreamKeyID = m.StreamKeyID
		}
		if s.Password != "" {
			r.PasswordHash = PasswordHash(r.UUID, s.Password)
		}
		if err := tx.PutRoom(&r); err != nil {
			return fmt.Errorf("put room: %w", err)
		}
		view = c.NewRoomJSON(&r, RoomDeps{AppName: c.appName(tx, appID), Member: &m, Key: keyOf(tx, &r)})
		return nil
	})
	return view, err
}

// keyOf reads the stream key of r (nil when none).
func keyOf(tx *storage.Tx, r *storage.Room) *storage.StreamKey {
	if r.StreamKeyID == 0 {
		return nil
	}
	k, err := tx.StreamKey(r.StreamKeyID)
	if err != nil {
		return nil
	}
	return &k
}

// PasswordHash hashes a room password, salted with the room UUID.
func PasswordHash(roomUUID, password string) []byte {
	sum := sha256.Sum256([]byte(roomUUID + "\x00" + password))
	return sum[:]
}

// metaChannelMembers is the meta key prefix of a room channel's member list
// ("control.channel.<roomID>" → JSON array of member IDs).
const metaChannelMembers = "control.channel."

// ChannelMembersOf reads the member IDs joined to room roomID's channel.
func ChannelMembersOf(tx *storage.Tx, roomID uint64) ([]uint64, error) {
	raw := tx.GetMeta(metaChannelMembers + strconv.FormatUint(roomID, 10))
	if raw == nil {
		return []uint64{}, nil
	}
	var ids []uint64
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, fmt.Errorf("decode channel members of room %d: %w", roomID, err)
	}
	return ids, nil
}

// ChannelMembers returns the IDs of the members joined to the channel of room
// roomID (SSE delivery). Unknown rooms have none.
func (c *Control) ChannelMembers(roomID uint64) ([]uint64, error) {
	var ids []uint64
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		ids, err = ChannelMembersOf(tx, roomID)
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	return ids, nil
}

// autoCloseConfig types. An ENDED room never goes live again, so both end the
// room; session-end-and-deactivate is accepted as the room creation document
// spells it.
const (
	AutoCloseSessionEnds             = "session-ends"
	AutoCloseSessionEndAndDeactivate = "session-end-and-deactivate"
)

// ValidAutoCloseType reports whether t is an autoCloseConfig type.
func ValidAutoCloseType(t string) bool {
	return t == AutoCloseSessionEnds || t == AutoCloseSessionEndAndDeactivate
}

// RoomWebhook is the optional per-room webhook of room creation (
// "webhook": {"endPoint", "events"}); events empty = every event of the room.
type RoomWebhook struct {
	EndPoint *string  `json:"endPoint"`
	Events   []string `json:"events"`
}

// RoomSpec is a validated createRoomRequest.
type RoomSpec struct {
	AppUserID   string
	Type        VideoRoomType
	Title       string
	Description string
	AccessLevel AccessLevel
	ScheduledAt time.Time
	CustomType  string
	CustomData  []storage.KeyValue
	Password    string
	AutoEnd     int
	// AutoCloseType ("" = none) and AutoCloseMinutes: autoCloseConfig.
	AutoCloseType    string
	AutoCloseMinutes int
	// WebhookURL and WebhookEvents: per-room webhook, "" = none.
	WebhookURL    string
	WebhookEvents []string
}

// DeleteRoom soft-deletes room id of appID and calls OnRoomDeleted after commit.
// A LIVE or LIVE_INACTIVE room is refused (ErrVideoRoomStateLive); a room in
// another API transition gets ErrRequestLocked.
func (c *Control) DeleteRoom(ctx context.Context, appID, id uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, err := c.lockRoom(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	var uuid string
	err = c.Store.Update(func(tx *storage.Tx) error {
		r, err := LoadRoom(tx, appID, id)
		if err != nil {
			return err
		}
		switch VideoRoomState(r.VideoRoomState) {
		case VideoRoomStateLive, VideoRoomStateLiveInactive:
			return ErrVideoRoomStateLive
		}
		now := c.now().UTC()
		r.State, r.DeletedAt, r.LastModifiedAt = storage.RoomDeleted, now, now
		uuid = r.UUID
		return tx.PutRoom(&r)
	})
	if err != nil {
		return err
	}
	if c.OnRoomDeleted != nil {
		c.OnRoomDeleted(uuid)
	}
	return nil
}

// PutChannelMembers writes the member IDs joined to room roomID's channel.
func PutChannelMembers(tx *storage.Tx, roomID uint64, ids []uint64) error {
	raw, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("encode channel members: %w", err)
	}
	if err := tx.PutMeta(metaChannelMembers+strconv.FormatUint(roomID, 10), raw); err != nil {
		return fmt.Errorf("put channel members of room %d: %w", roomID, err)
	}
	return nil
}

// ChatMembers returns the IDs of the members of room roomID's chat room (SSE
// fan-out of chat messages, Event.Audience AudienceChat). A room without a chat
// room, or a closed one, has none.
func (c *Control) ChatMembers(roomID uint64) ([]uint64, error) {
	var ids []uint64
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		ids, err = tx.ChatMemberIDs(roomID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("chat members of room %d: %w", roomID, err)
	}
	return ids, nil
}
