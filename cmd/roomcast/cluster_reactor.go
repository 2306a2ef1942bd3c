package main

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	pub "github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// In a cluster, a transition is committed by whichever node answers the API call
// (or notices a lost node), but its media effects belong to other nodes: the node
// ingesting a room's publish packages its new session and disconnects a publish
// the store no longer has, and the node holding a room's last session archives
// it. Control's hooks run on the committing node, so every node also reacts to the
// outbox, which it reads in order whatever node appended an event: the reactor
// reconciles the rooms and keys an event touched with what this node holds. Both
// paths act through bindOnce and archiveOnce, so the committing node, when it is
// also the holder, does each thing once.

// reactor queues the events of the outbox for reconcile (coalesced).
type reactor struct {
	mu      sync.Mutex
	rooms   map[uint64]struct{} // rooms whose events came since the last reconcile
	keys    bool                // a publish stopped somewhere: check the held claims
	wake    chan struct{}
	bound   map[uint64]boundSession // stream key → the session bound here
	archive map[string]struct{}     // rooms whose archive this process queued
}

// onEvent is the Broker's OnEvent: it must not block.
func (s *server) onEvent(ev events.Event) {
	r := &s.react
	r.mu.Lock()
	switch ev.Name {
	case events.EventVideoRoomLive, events.EventVideoRoomEnded:
		if ev.RoomID != 0 {
			r.rooms[ev.RoomID] = struct{}{}
		}
		if ev.Name == events.EventVideoRoomEnded {
			r.keys = true
		}
	case events.EventPublishStopped:
		r.keys = true
	default:
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// initReactor prepares the reactor's state (before the Broker starts).
func (s *server) initReactor() {
	s.react = reactor{rooms: map[uint64]struct{}{}, wake: make(chan struct{}, 1),
		bound: map[uint64]boundSession{}, archive: map[string]struct{}{}}
}

// runReactor reconciles until ctx ends (a goroutine of startCluster).
func (s *server) runReactor(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.react.wake:
		}
		r := &s.react
		r.mu.Lock()
		rooms, keys := r.rooms, r.keys
		r.rooms, r.keys = map[uint64]struct{}{}, false
		r.mu.Unlock()
		for id := range rooms {
			s.reconcileRoom(ctx, id)
		}
		if keys {
			s.reconcileClaims(ctx)
		}
	}
}

// reconcileRoom binds a LIVE room's new session when this node ingests its key,
// and archives an ENDED room whose last session this node holds.
func (s *server) reconcileRoom(ctx context.Context, roomID uint64) {
	var room storage.Room
	err := s.store.View(func(tx *storage.Tx) error {
		var err error
		room, err = tx.Room(roomID)
		return err
	})
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) && ctx.Err() == nil {
			s.Log.Warn("cluster: read room", "room", roomID, "err", err)
		}
		return
	}
	n := len(room.Sessions)
	if n == 0 {
		return
	}
	last := room.Sessions[n-1]
	switch control.VideoRoomState(room.VideoRoomState) {
	case control.VideoRoomStateLive:
		if last.Node == s.coord.NodeID() {
			s.bindOnce(control.SessionInfo{KeyID: room.StreamKeyID, AppID: room.AppID, RoomID: room.ID,
				RoomUUID: room.UUID, SessionNo: room.LastSessionNo, Mode: pub.Mode(room.Mode), StartedAt: last.StartedAt,
				Node: last.Node})
		}
	case control.VideoRoomStateEnded:
		if control.VODState(room.VODState) == control.VODStateArchiving {
			s.archiveOnce(room.UUID, last.Node)
		}
	}
}

// reconcileClaims disconnects the publishes this node holds that the store no
// longer has (another node stopped them: a forced end, a key reset, a maximum
// live duration): the transition is committed, only the connection is left.
func (s *server) reconcileClaims(ctx context.Context) {
	s.claims.mu.Lock()
	held := make(map[uint64]uint64, len(s.claims.held))
	for id, c := range s.claims.seq {
		held[id] = c
	}
	s.claims.mu.Unlock()
	if len(held) == 0 {
		return
	}
	var gone []uint64
	err := s.store.View(func(tx *storage.Tx) error {
		for id, seq := range held {
			k, err := tx.StreamKey(id)
			if errors.Is(err, storage.ErrNotFound) || (err == nil && (!k.Publishing || k.PublishSeq != seq)) {
				gone = append(gone, id)
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("cluster: read claimed keys", "err", err)
		}
		return
	}
	ing := s.live.rtmp.Load()
	for _, id := range gone {
		if ing != nil && ing.Kick(pub.StreamID(id), pub.StopKicked) {
			s.Log.Info("cluster: publish stopped by another node: disconnected", "key", id)
		}
	}
}

// boundSession is a live session this process packages.
type boundSession struct {
	room string
	no   int
}

// sessions lists the live sessions this node ingests ("roomUuid/sessionNo") for
// the node registry.
func (s *server) sessions() []string {
	s.claims.mu.Lock()
	keys := make([]uint64, 0, len(s.claims.held))
	for id := range s.claims.held {
		keys = append(keys, id)
	}
	s.claims.mu.Unlock()
	r := &s.react
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, id := range keys {
		if b, ok := r.bound[id]; ok {
			out = append(out, b.room+"/"+strconv.Itoa(b.no))
		}
	}
	slices.Sort(out)
	return out
}

// bindOnce binds session si to its stream unless this process did already.
func (s *server) bindOnce(si control.SessionInfo) {
	r := &s.react
	r.mu.Lock()
	b := boundSession{si.RoomUUID, si.SessionNo}
	if r.bound[si.KeyID] == b {
		r.mu.Unlock()
		return
	}
	r.bound[si.KeyID] = b
	r.mu.Unlock()
	s.viewers.Begin(si.RoomUUID)
	// a mode=RTMP session is recorded but not offered as live CMAF (no cmaf URLs)
	s.packager.Bind(pub.StreamID(si.KeyID).String(), packagerSession(si))
}

// archiveOnce archives room roomUUID here when this node holds its last session
// (node "" : a session of one node, before clusters), or archivesFor that node,
// once per process.
func (s *server) archiveOnce(roomUUID, node string) {
	if node != "" && node != s.coord.NodeID() && !s.archivesFor(node) {
		return
	}
	r := &s.react
	r.mu.Lock()
	_, done := r.archive[roomUUID]
	r.archive[roomUUID] = struct{}{}
	r.mu.Unlock()
	if !done {
		s.packager.Archive(roomUUID)
	}
}

// archivesFor reports whether this node archives the rooms whose last session
// node ingested: with an object store, when node is gone, the live node with the
// lowest ID does (the sessions are in the store, not on node's disk).
func (s *server) archivesFor(node string) bool {
	if s.objects == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nodes, err := s.coord.Nodes(ctx)
	if err != nil || len(nodes) == 0 {
		return false
	}
	lowest := nodes[0].ID
	for _, n := range nodes {
		if n.ID == node {
			return false
		}
		lowest = min(lowest, n.ID)
	}
	return lowest == s.coord.NodeID()
}
