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
	// PublishSeq numbers the key's publishes: a claim on the publish names it, so
	// that the loss of an old claim never stops a newer publish (PublishLost).
	PublishSeq uint64
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
		k.NodeHTTPURL, k.NodeRTMPURL = c.PublicHTTPURL, c.PublicRTMPURL
		res = PublishStart{KeyID: k.ID, AppID: k.AppID, Mode: m, PublishSeq: k.PublishSeq}
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
	return c.publishStopped(ctx, keyID, 0, reason)
}

// PublishLost applies "publish stopped" to key keyID for the publish numbered
// seq (PublishStart.PublishSeq) whose node was lost: only if that publish is
// still the key's current one, so that a repeated report, or one that arrives
// after the encoder already reconnected elsewhere, changes nothing.
func (c *Control) PublishLost(ctx context.Context, keyID, seq uint64, reason string) error {
	if seq == 0 {
		return errors.New("publish lost: no publish sequence")
	}
	return c.publishStopped(ctx, keyID, seq, reason)
}

// publishStopped is PublishStopped, restricted to publish seq when it is not 0.
func (c *Control) publishStopped(ctx context.Context, keyID, seq uint64, reason string) error {
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
		if seq != 0 && (k.PublishSeq != seq || !k.Publishing) {
			return errKeyNotPublishing
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
	return c.RecoverUnclaimed(ctx, publish.StopServerRestart, nil)
}

// RecoverUnclaimed is Recover for a node of a cluster: only the keys whose
// publish no live node claims (claimed(keyID, publishSeq) false; nil claims
// none) are stopped, with reason (NODE_LOST: their node died while no other
// node was watching).
func (c *Control) RecoverUnclaimed(ctx context.Context, reason publish.StopReason, claimed func(keyID, seq uint64) bool) error {
	type pub struct{ id, seq uint64 }
	var lost []pub
	err := c.Store.View(func(tx *storage.Tx) error {
		return tx.ForEachPublishingKey(func(k storage.StreamKey) error {
			if claimed == nil || !claimed(k.ID, k.PublishSeq) {
				lost = append(lost, pub{k.ID, k.PublishSeq})
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("recover: list publishing keys: %w", err)
	}
	for _, p := range lost {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if claimed != nil && p.seq != 0 {
			err = c.PublishLost(ctx, p.id, p.seq, reason.String())
		} else {
			err = c.PublishStopped(ctx, p.id, reason.String())
		}
		if err != nil {
			return fmt.Errorf("recover: %w", err)
		}
	}
	if len(lost) > 0 {
		c.Log.Info("recovered stream keys left publishing", "count", len(lost), "reason", reason)
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
