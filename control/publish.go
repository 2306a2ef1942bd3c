package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// PublishStart is the answer to PublishStarted.
type PublishStart struct {
	KeyID uint64
	AppID uint64
	Mode  publish.Mode
	// RoomUUID and SessionNo are set when the key is bound to a room: the publish
	// resumed a LIVE_INACTIVE room, which is LIVE again with session SessionNo.
	RoomUUID  string
	SessionNo int
}

// PublishStarted validates a stream key secret and mode (publish.ParseMode:
// case-insensitive, "" = CMAF) and applies the
// "publish started" transition: key INACTIVE → ACTIVE (preview), or INACTIVE_LIVE →
// ACTIVE_LIVE with its room LIVE_INACTIVE → LIVE and a new session. Errors:
// ErrInvalidMode, ErrStreamKeyNotFound, ErrAlreadyPublishing (the first publisher
// keeps going).
func (c *Control) PublishStarted(ctx context.Context, streamKeySecret, mode string) (PublishStart, error) {
	m, err := publish.ParseMode(mode)
	if err != nil {
		return PublishStart{}, ErrInvalidMode.WithMessage("%v", err)
	}
	if err := ctx.Err(); err != nil {
		return PublishStart{}, err
	}
	var cm committed
	var res PublishStart
	err = c.Store.Update(func(tx *storage.Tx) error {
		cm = committed{ev: eventPublishStarted}
		k, err := tx.StreamKeyBySecret(streamKeySecret)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrStreamKeyNotFound
		}
		if err != nil {
			return fmt.Errorf("look up stream key: %w", err)
		}
		r, cur, err := keyAndRoom(tx, &k)
		if err != nil {
			return err
		}
		out, err := transition(cur, eventPublishStarted)
		if err != nil {
			return err
		}
		k.Mode = string(m)
		k.PublishSeq++
		res = PublishStart{KeyID: k.ID, AppID: k.AppID, Mode: m}
		if err := c.commitTransition(tx, r, &k, out, &cm, ""); err != nil {
			return err
		}
		if r != nil {
			res.RoomUUID, res.SessionNo = r.UUID, r.LastSessionNo
		}
		return nil
	})
	if err != nil {
		return PublishStart{}, err
	}
	c.afterCommit(&cm)
	return res, nil
}

// keyAndRoom reads the room k is bound to (nil when unbound) and the pair's states.
func keyAndRoom(tx *storage.Tx, k *storage.StreamKey) (*storage.Room, states, error) {
	cur := states{Key: streamKeyStateOf(k.Publishing, k.RoomID != 0)}
	if k.RoomID == 0 {
		return nil, cur, nil
	}
	r, err := tx.Room(k.RoomID)
	if err != nil {
		return nil, cur, fmt.Errorf("read room %d of stream key %d: %w", k.RoomID, k.ID, err)
	}
	cur.Room = VideoRoomState(r.VideoRoomState)
	return &r, cur, nil
}

// PublishStopped applies the "publish stopped" transition to key keyID: ACTIVE →
// INACTIVE, or ACTIVE_LIVE → INACTIVE_LIVE with its room LIVE → LIVE_INACTIVE.
// reason is recorded in the stream_key.publish_stopped event. A key that is not
// publishing is left alone (nil error), so a repeated call is harmless.
func (c *Control) PublishStopped(ctx context.Context, keyID uint64, reason string) error {
	var cm committed
	err := c.Store.Update(func(tx *storage.Tx) error {
		cm = committed{ev: eventPublishStopped}
		k, err := tx.StreamKey(keyID)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrStreamKeyNotFound
		}
		if err != nil {
			return fmt.Errorf("read stream key %d: %w", keyID, err)
		}
		r, cur, err := keyAndRoom(tx, &k)
		if err != nil {
			return err
		}
		out, err := transition(cur, eventPublishStopped)
		if err != nil {
			return err
		}
		return c.commitTransition(tx, r, &k, out, &cm, reason)
	})
	if errors.Is(err, errKeyNotPublishing) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("publish stopped (key %d): %w", keyID, err)
	}
	c.afterCommit(&cm)
	return nil
}

// Recover runs at boot, before ingest listens: every key still marked publishing
// (the process died while streams were up) gets "publish stopped" with reason
// SERVER_RESTART, so its LIVE room becomes LIVE_INACTIVE and can resume or end.
func (c *Control) Recover(ctx context.Context) error {
	var ids []uint64
	err := c.Store.View(func(tx *storage.Tx) error {
		return tx.ForEachPublishingKey(func(k storage.StreamKey) error {
			ids = append(ids, k.ID)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("recover: list publishing keys: %w", err)
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.PublishStopped(ctx, id, publish.StopServerRestart.String()); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
	}
	if len(ids) > 0 {
		c.Log.Info("recovered stream keys left publishing", "count", len(ids))
	}
	return nil
}

// StreamKey reads stream key keyID as stored now.
func (c *Control) StreamKey(keyID uint64) (storage.StreamKey, error) {
	var k storage.StreamKey
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		k, err = tx.StreamKey(keyID)
		return err
	})
	if err != nil {
		return storage.StreamKey{}, fmt.Errorf("read stream key %d: %w", keyID, err)
	}
	return k, nil
}
