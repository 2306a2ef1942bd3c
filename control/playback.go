package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roomcast/roomcast/control/member"
	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// VerifyStreamingToken verifies a viewer's streamingToken without a store read
// (signature, expiry, member token version).
func (c *Control) VerifyStreamingToken(token string) (member.Claims, error) {
	return c.verifyToken(token, member.TokenStreaming)
}

// VerifyAccessToken verifies a member accessToken without a store read (SSE).
func (c *Control) VerifyAccessToken(token string) (member.Claims, error) {
	return c.verifyToken(token, member.TokenAccess)
}

// ErrPlayInactive is what AuthorizePlay returns for a broadcast that may still
// resume with RTMP: the room is LIVE_INACTIVE, or LIVE with a session published
// without RTMP. An RTMP player already playing waits; a new one is refused.
var ErrPlayInactive = fmt.Errorf("%w: waiting for an RTMP publisher", ErrVideoRoomNotLive)

// AuthorizePlay authorizes an RTMP player of /play/{roomUUID}: the token must be a
// streaming token of the room's app and the room LIVE in a mode with RTMP. It
// returns the stream key ID (decimal = the hub StreamID), or ErrPlayInactive (see
// there), or another error when the room cannot be played (ended, deleted, bad
// token).
func (c *Control) AuthorizePlay(ctx context.Context, roomUUID, streamingToken string) (uint64, error) {
	cl, err := c.VerifyStreamingToken(streamingToken)
	if err != nil {
		return 0, err
	}
	r, err := c.roomByUUID(ctx, cl.AppID, roomUUID)
	if err != nil {
		return 0, err
	}
	switch st := VideoRoomState(r.VideoRoomState); {
	case st == VideoRoomStateLiveInactive, st == VideoRoomStateLive && !publish.Mode(r.Mode).HasRTMP():
		return 0, ErrPlayInactive
	case st != VideoRoomStateLive:
		return 0, ErrVideoRoomNotLive
	}
	return r.StreamKeyID, nil
}

// roomByUUID reads a room of appID by UUID (0: any app); deleted → not found.
func (c *Control) roomByUUID(ctx context.Context, appID uint64, roomUUID string) (storage.Room, error) {
	if err := ctx.Err(); err != nil {
		return storage.Room{}, err
	}
	var r storage.Room
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		r, err = tx.RoomByUUID(roomUUID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) || (err == nil && ((appID != 0 && r.AppID != appID) || r.State != storage.RoomActive)) {
		return storage.Room{}, ErrVideoRoomNotFound
	}
	if err != nil {
		return storage.Room{}, fmt.Errorf("read room %s: %w", roomUUID, err)
	}
	return r, nil
}

// RoomView is the public summary of a room for the player page.
type RoomView struct {
	ID             uint64
	UUID           string
	AppID          uint64
	Title          string
	Description    string
	Type           VideoRoomType
	VideoRoomState VideoRoomState
	VODState       VODState
	Mode           publish.Mode
	SessionNo      int // the current (or last) live session
	// URLs: the live ones only while LIVE, VODURL once ARCHIVED; "" otherwise.
	PlayURL, CMAFHLSPlayURL, CMAFDASHPlayURL, RTMPPlayURL, VODURL string
	ScheduledAt, LiveStartedAt, LiveEndedAt                       time.Time
}

// Room returns the player-page view of room roomUUID (any app; the page checks the
// viewer's token itself). Unknown or deleted rooms: ErrVideoRoomNotFound.
func (c *Control) Room(ctx context.Context, roomUUID string) (RoomView, error) {
	r, err := c.roomByUUID(ctx, 0, roomUUID)
	if err != nil {
		return RoomView{}, err
	}
	u := c.playURLsOf(&r)
	return RoomView{
		ID: r.ID, UUID: r.UUID, AppID: r.AppID, Title: r.Title, Description: r.Description,
		Type: VideoRoomType(r.Type), VideoRoomState: VideoRoomState(r.VideoRoomState),
		VODState: VODState(r.VODState), Mode: publish.Mode(r.Mode), SessionNo: r.LastSessionNo,
		PlayURL: u.Play, CMAFHLSPlayURL: u.HLS, CMAFDASHPlayURL: u.DASH, RTMPPlayURL: u.RTMP, VODURL: u.VOD,
		ScheduledAt: r.ScheduledAt, LiveStartedAt: r.LiveStartedAt, LiveEndedAt: r.LiveEndedAt,
	}, nil
}

// SessionNode returns the ID of the node that ingests (or ingested) session no
// of room roomUUID: "" for a session of one node, ErrVideoRoomNotFound for an
// unknown room or session.
func (c *Control) SessionNode(ctx context.Context, roomUUID string, no int) (string, error) {
	r, err := c.roomByUUID(ctx, 0, roomUUID)
	if err != nil {
		return "", err
	}
	for _, s := range r.Sessions {
		if s.No == no {
			return s.Node, nil
		}
	}
	return "", ErrVideoRoomNotFound
}
