package vod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/roomcast/roomcast/packager/timeline"
)

// ManifestFile is the name of a room's archive manifest inside its media directory.
const ManifestFile = "vod.json"

// ErrNothingPlayable is returned when a room has no playable segment at all
// (FAILED_ARCHIVING).
var ErrNothingPlayable = errors.New("nothing playable")

// Manifest is the archive of one room: every playable segment of its live sessions
// in order, renumbered so that one timeline.Timeline describes the whole broadcast.
// Segment MSNs are 0..len-1 and init versions are renumbered across sessions; track
// names are those of the first session's tracks, so file names in URIs
// ("video1_12.m4s", "audio2_init1.mp4") are virtual and mapped to the session files
// through Sources and Inits. The live files are reused, never copied.
type Manifest struct {
	// Room is the room UUID.
	Room string `json:"room"`
	// ArchivedAt is when the manifest was built.
	ArchivedAt time.Time `json:"archivedAt"`
	// Versions are the renumbered init versions; Tracks[i].Init is a virtual name.
	Versions []*timeline.Version `json:"versions"`
	// Segments are the renumbered segments; Tracks[i].File is a virtual name.
	Segments []*timeline.Segment `json:"segments"`
	// Sources[msn][track] is the segment file, relative to the room directory.
	Sources [][]string `json:"sources"`
	// Inits[version][track] is the init file, relative to the room directory.
	Inits [][]string `json:"inits"`
	// TargetDuration is EXT-X-TARGETDURATION in seconds.
	TargetDuration int `json:"targetDuration"`
	// Sessions reports what each live session contributed.
	Sessions []SessionReport `json:"sessions"`
}

// SessionReport says what one live session contributed to the archive.
type SessionReport struct {
	// No is the session number.
	No int `json:"no"`
	// FirstMSN is the archive MSN of the session's first segment.
	FirstMSN uint64 `json:"firstMsn"`
	// Segments is the number of segments archived.
	Segments int `json:"segments"`
	// Duration is the media duration archived (leading track).
	Duration time.Duration `json:"duration"`
	// Recovered is the number of segments rebuilt from segment files that the index
	// did not list (the process died while they were written).
	Recovered int `json:"recovered,omitempty"`
	// Skipped is the number of listed segments left out (missing or truncated).
	Skipped int `json:"skipped,omitempty"`
	// Notes explain what was skipped or recovered.
	Notes []string `json:"notes,omitempty"`
}

// Duration is the total media duration of the archive (leading track).
func (m *Manifest) Duration() time.Duration {
	var d time.Duration
	for _, s := range m.Segments {
		d += s.Duration
	}
	return d
}

// Timeline returns the archive as an ended timeline for hls.Media / hls.Multivariant.
func (m *Manifest) Timeline() *timeline.Timeline {
	tl := &timeline.Timeline{
		Versions:       m.Versions,
		Segments:       m.Segments,
		TargetDuration: m.TargetDuration,
		Ended:          true,
		Updated:        m.ArchivedAt,
	}
	if len(m.Segments) > 0 {
		tl.Start = m.Segments[0].PDT
	}
	return tl
}

// dashEpoch is the media time zero of the static MPD.
var dashEpoch = time.Unix(0, 0).UTC()

// DASHTimeline returns the archive as a timeline for dash.MPD(Static): sessions
// are placed back to back (PDT = media time), so that mediaPresentationDuration is
// the media duration, not the wall-clock span with the pauses.
func (m *Manifest) DASHTimeline() *timeline.Timeline {
	tl := m.Timeline()
	tl.Start = dashEpoch
	segs := make([]*timeline.Segment, len(m.Segments))
	var at time.Duration
	for i, s := range m.Segments {
		c := *s
		c.PDT = dashEpoch.Add(at)
		at += s.Duration
		segs[i] = &c
	}
	tl.Segments = segs
	return tl
}

// finish computes the target duration and the DASH periods (a new period at the
// start, at every discontinuity and at every init version change).
func (m *Manifest) finish() {
	target := 1
	var at time.Duration
	var period *timeline.Segment
	for _, s := range m.Segments {
		v := m.Versions[s.Version]
		for i := range s.Tracks {
			d := s.TrackDuration(i, v.Tracks[i].TimeScale)
			target = max(target, int(math.Round(d.Seconds())))
		}
		if period == nil || s.Discontinuity || s.Version != period.Version {
			period = s
			s.PeriodStart = at
		}
		s.Period, s.PeriodStart = period.MSN, period.PeriodStart
		for i := range s.Tracks {
			s.Tracks[i].PeriodBase = period.Tracks[i].BaseTime
		}
		at += s.Duration
	}
	m.TargetDuration = target
}

// save stores the manifest atomically as {room}/vod.json (on a local disk: temp
// file, fsync, rename, fsync of the directory), so that after a crash either the
// old or the new manifest exists whole.
func (m *Manifest) save(ctx context.Context, st Store) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := st.WriteFile(ctx, m.Room+"/"+ManifestFile, b); err != nil {
		return fmt.Errorf("save manifest: %w", err)
	}
	return nil
}

// LoadManifest reads the manifest of the room from st.
func LoadManifest(ctx context.Context, st Store, room string) (*Manifest, error) {
	b, err := st.ReadFile(ctx, room+"/"+ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if len(m.Sources) != len(m.Segments) || len(m.Inits) != len(m.Versions) {
		return nil, errors.New("decode manifest: inconsistent tables")
	}
	for _, s := range m.Segments {
		if s.Version < 0 || s.Version >= len(m.Versions) || len(s.Tracks) != len(m.Versions[s.Version].Tracks) {
			return nil, errors.New("decode manifest: inconsistent segment")
		}
	}
	return m, nil
}
