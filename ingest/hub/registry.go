package hub

import (
	"errors"
	"sync"
)

// ErrStreamInUse is returned by Registry.Publish when the key already has a live
// stream (the first publisher keeps going).
var ErrStreamInUse = errors.New("stream key already publishing")

// Registry maps stream keys to their live Stream.
type Registry struct {
	mu      sync.RWMutex
	streams map[string]*Stream
	changed chan struct{} // closed at the next Publish; nil until Changed
}

// Publish registers s under s.Key, or fails with ErrStreamInUse.
func (g *Registry) Publish(s *Stream) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.streams == nil {
		g.streams = make(map[string]*Stream)
	}
	if _, ok := g.streams[s.Key]; ok {
		return ErrStreamInUse
	}
	g.streams[s.Key] = s
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
	return nil
}

// Changed returns a channel closed at the next Publish of any key (a waiting RTMP
// player looks its key up again then).
func (g *Registry) Changed() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.changed
}

// Unpublish removes s if it is still the stream registered under its key.
func (g *Registry) Unpublish(s *Stream) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.streams[s.Key] == s {
		delete(g.streams, s.Key)
	}
}

// Lookup returns the live stream of key, or nil.
func (g *Registry) Lookup(key string) *Stream {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.streams[key]
}

// Len returns the number of live streams.
func (g *Registry) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.streams)
}
