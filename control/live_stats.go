package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// LiveStats is what the media side measures about live rooms, read for the
// room JSON's "stats" (cmd wires the ingest's health and the viewer counter).
// IngestHealth and Viewers are called on every room view: they must not block
// and must not touch the store.
type LiveStats interface {
	// IngestHealth returns the health of stream key keyID's live publish, nil
	// when it is not publishing.
	IngestHealth(keyID uint64) *publish.Health
	// IngestHistory returns the last 5 minutes of stream key keyID's live
	// publish, one sample a second, oldest first; nil when it is not publishing.
	IngestHistory(keyID uint64) []publish.HealthSample
	// Viewers returns the concurrent viewers of the room now and their peak
	// since its broadcast started on this process.
	Viewers(roomUUID string) (current, peak int)
}

// noLiveStats is the LiveStats of a Control without a media side.
type noLiveStats struct{}

func (noLiveStats) IngestHealth(uint64) *publish.Health         { return nil }
func (noLiveStats) IngestHistory(uint64) []publish.HealthSample { return nil }
func (noLiveStats) Viewers(string) (int, int)                   { return 0, 0 }

// setLiveStats fills the live numbers of j's stats: viewers while the room is
// LIVE or LIVE_INACTIVE (the peak is also the stored one, kept after the end),
// the ingest health while its key publishes into it.
func (c *Control) setLiveStats(j *RoomJSON, r *storage.Room, key *storage.StreamKey) {
	j.Stats.PeakViewerCount = r.PeakViewerCount
	switch VideoRoomState(r.VideoRoomState) {
	case VideoRoomStateLive, VideoRoomStateLiveInactive:
	default:
		return
	}
	cur, peak := c.Live.Viewers(r.UUID)
	j.Stats.ViewerCount = cur
	j.Stats.PeakViewerCount = max(peak, r.PeakViewerCount)
	if key != nil && key.Publishing && key.RoomID == r.ID {
		j.Stats.Ingest = c.Live.IngestHealth(key.ID)
	}
}

// keepPeakViewers stores the room's peak of concurrent viewers when it leaves
// LIVE (to LIVE_INACTIVE or ENDED), so that it outlives the broadcast and the
// process; it is never lowered. The live counter is read, not the store: no
// write per playback request.
func (c *Control) keepPeakViewers(r *storage.Room, to VideoRoomState) {
	if to != VideoRoomStateLiveInactive && to != VideoRoomStateEnded {
		return
	}
	_, peak := c.Live.Viewers(r.UUID)
	r.PeakViewerCount = max(r.PeakViewerCount, peak)
}

// RecordPeakViewers stores the peaks of live rooms that rose (the viewer
// counter reports them every 30 s), in one transaction: a crash loses at most
// that much of a peak. A peak is never lowered; rooms no longer live are left
// alone (their peak was stored when they left LIVE).
func (c *Control) RecordPeakViewers(ctx context.Context, peaks map[string]int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.Store.Update(func(tx *storage.Tx) error {
		for roomUUID, peak := range peaks {
			r, err := tx.RoomByUUID(roomUUID)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read room %s: %w", roomUUID, err)
			}
			switch VideoRoomState(r.VideoRoomState) {
			case VideoRoomStateLive, VideoRoomStateLiveInactive:
			default:
				continue
			}
			if peak <= r.PeakViewerCount || r.State != storage.RoomActive {
				continue
			}
			r.PeakViewerCount = peak
			if err := tx.PutRoom(&r); err != nil {
				return fmt.Errorf("store peak viewers of room %d: %w", r.ID, err)
			}
		}
		return nil
	})
}
