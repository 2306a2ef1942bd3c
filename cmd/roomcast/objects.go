package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/roomcast/roomcast/objstore"
	"github.com/roomcast/roomcast/packager/timeline"
	"github.com/roomcast/roomcast/storage"
)

// openObjects connects to --object-store (nil without it). An unreachable store
// at start is logged, not fatal: uploads wait and retry, live streams are served
// from the local disk meanwhile.
func (s *server) openObjects() (*objstore.Client, error) {
	if s.Config.ObjectStore == "" {
		return nil, nil
	}
	cfg, err := objstore.ParseURL(s.Config.ObjectStore)
	if err != nil {
		return nil, fmt.Errorf("--object-store: %w", err)
	}
	c, err := objstore.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", cfg, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.EnsureBucket(ctx); err != nil {
		s.Log.Warn("object store unreachable at start: recordings wait on the local disk and upload when it answers",
			"store", cfg.String(), "err", err)
	} else {
		s.Log.Info("recordings are kept in the object store", "store", cfg.String())
	}
	return c, nil
}

// waitRemoteStored blocks until every session of the room ingested by another
// live node is stored complete in the object store (its index.jsonl is there);
// the sessions of a node that is gone are taken as stored (what it uploaded
// before it died is what the VOD holds). This node's sessions are the
// packager's to wait for.
func (s *server) waitRemoteStored(ctx context.Context, roomUUID string) error {
	var room storage.Room
	err := s.store.View(func(tx *storage.Tx) error {
		var err error
		room, err = tx.RoomByUUID(roomUUID)
		return err
	})
	if err != nil {
		return fmt.Errorf("read room: %w", err)
	}
	self := s.coord.NodeID()
	for _, sess := range room.Sessions {
		if sess.Node == "" || sess.Node == self {
			continue
		}
		key := roomUUID + "/" + strconv.Itoa(sess.No) + "/" + timeline.IndexFile
		for {
			_, err := s.objects.Stat(ctx, key)
			if err == nil {
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				s.Log.Debug("object store: stat session index", "key", key, "err", err)
			}
			alive, lerr := s.nodeAlive(ctx, sess.Node)
			if lerr == nil && !alive {
				s.Log.Warn("archive: the node of a session is gone; its stored part is archived",
					"room", roomUUID, "session", sess.No, "node", sess.Node)
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("session %d of node %s not stored yet: %w", sess.No, sess.Node, ctx.Err())
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// nodeAlive reports whether node is in the cluster registry.
func (s *server) nodeAlive(ctx context.Context, node string) (bool, error) {
	nodes, err := s.coord.Nodes(ctx)
	if err != nil {
		return false, err
	}
	for _, n := range nodes {
		if n.ID == node {
			return true, nil
		}
	}
	return false, nil
}
