package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"

	"github.com/roomcast/roomcast/control"
	pub "github.com/roomcast/roomcast/publish"
)

// RTMP relay players on any node of a cluster: a player of a LIVE room whose
// session another node ingests is fed by a pull from that node (ingest's
// relay_edge.go), one per session per node. This file is cmd's side of it: where
// the session is (room → its current session → the session's node → that
// node's --node-rtmp-url from the registry), and the key that authenticates the
// pulls between nodes.

// rtmpUpstreamIfCluster is the ingest's Upstream on a cluster, nil on one node.
func (s *server) rtmpUpstreamIfCluster() func(ctx context.Context, room string, id pub.StreamID) (string, error) {
	if s.Config.Store != "etcd" {
		return nil
	}
	return s.rtmpUpstream
}

// rtmpUpstream is the RTMP base URL of the node ingesting the current session of
// room, or "" when that is this node, or the room has no live session, or its
// node left the cluster (its session is gone).
func (s *server) rtmpUpstream(ctx context.Context, room string, _ pub.StreamID) (string, error) {
	v, err := s.control.Room(ctx, room)
	if errors.Is(err, control.ErrVideoRoomNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("room %s: %w", room, err)
	}
	if v.SessionNo == 0 {
		return "", nil
	}
	key := room + "/" + fmt.Sprint(v.SessionNo)
	node, ok := s.sessionNodes.get(key)
	if !ok {
		node, err = s.control.SessionNode(ctx, room, v.SessionNo)
		if errors.Is(err, control.ErrVideoRoomNotFound) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("session %s: %w", key, err)
		}
		s.sessionNodes.put(key, node)
	}
	if node == "" || node == s.coord.NodeID() {
		return "", nil
	}
	nodes, err := s.coord.Nodes(ctx)
	if err != nil {
		return "", fmt.Errorf("node registry: %w", err)
	}
	for _, n := range nodes {
		if n.ID == node {
			return n.NodeRTMPURL, nil
		}
	}
	return "", nil
}

// edgeKey authenticates the RTMP pulls between nodes: derived from the install
// secret, which every node of a cluster reads from the store, so every node has
// it and no viewer can make it.
func (s *server) edgeKey() []byte {
	m := hmac.New(sha256.New, s.store.InstallSecret())
	m.Write([]byte("roomcast rtmp edge pull"))
	return m.Sum(nil)
}

// defaultNodeRTMPURL is rtmp://<rtmp-addr> when the address names a host, else
// the public RTMP URL.
func defaultNodeRTMPURL(rtmpAddr, public string) string {
	host, port, err := net.SplitHostPort(rtmpAddr)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return public
	}
	return "rtmp://" + net.JoinHostPort(host, port)
}
