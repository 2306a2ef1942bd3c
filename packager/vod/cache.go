package vod

import (
	"context"
	"slices"
	"sync"
)

// cache keeps the manifests and MP4 layouts of recently played rooms (LRU).
type cache struct {
	max int

	mu      sync.Mutex
	entries map[string]*cacheEntry
	order   []string // least recently used first
}

// cacheEntry loads its manifest and builds its layout once; concurrent requests
// wait on its mutexes.
type cacheEntry struct {
	mu       sync.Mutex
	manifest *Manifest
	mErr     error
	loaded   bool

	mp4Mu  sync.Mutex
	layout *mp4Layout
	lErr   error
	built  bool
}

func newCache(n int) *cache {
	return &cache{max: n, entries: map[string]*cacheEntry{}}
}

func (c *cache) entry(room string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[room]
	if i := slices.Index(c.order, room); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
	}
	c.order = append(c.order, room)
	if e == nil {
		e = &cacheEntry{}
		c.entries[room] = e
		for len(c.order) > c.max {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
	}
	return e
}

// drop forgets a room (archived again or deleted).
func (c *cache) drop(room string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, room)
	if i := slices.Index(c.order, room); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
	}
}

// manifest returns the room's manifest, loading it once.
// A load cut short by ctx is not remembered.
func (c *cache) manifest(ctx context.Context, st Store, room string) (*Manifest, error) {
	e := c.entry(room)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.loaded {
		m, err := LoadManifest(ctx, st, room)
		if err != nil && ctx.Err() != nil {
			return nil, err
		}
		e.manifest, e.mErr, e.loaded = m, err, true
	}
	return e.manifest, e.mErr
}

// layout returns the room's MP4 layout, building it once.
// A build cut short by ctx is not remembered.
func (c *cache) layout(ctx context.Context, st Store, room string) (*Manifest, *mp4Layout, error) {
	m, err := c.manifest(ctx, st, room)
	if err != nil {
		return nil, nil, err
	}
	e := c.entry(room)
	e.mp4Mu.Lock()
	defer e.mp4Mu.Unlock()
	if !e.built {
		l, err := buildMP4(ctx, st, m)
		if err != nil && ctx.Err() != nil {
			return nil, nil, err
		}
		e.layout, e.lErr, e.built = l, err, true
	}
	return m, e.layout, e.lErr
}
