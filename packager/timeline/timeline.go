package timeline

import (
	"strconv"
	"time"
)

// Kind is the media kind of a track.
type Kind string

// Kinds of tracks.
const (
	KindVideo Kind = "video"
	KindAudio Kind = "audio"
)

// Track describes one track of one init version.
type Track struct {
	// Name is the stable name of the track in URIs and file names ("video1").
	Name string `json:"name"`
	// ID is the hub track ID, also the fMP4 track ID.
	ID int `json:"id"`
	// Kind is video or audio.
	Kind Kind `json:"kind"`
	// Codecs is the RFC 6381 codec string (avc1.64001f, mp4a.40.2, opus...).
	Codecs string `json:"codecs"`
	// TimeScale is the fMP4 timescale in Hz (tfdt and sample durations use it).
	TimeScale uint32 `json:"timescale"`
	// Width and Height in pixels (video).
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// FrameRate in frames per second when the SPS tells it (video), else 0.
	FrameRate float64 `json:"frameRate,omitempty"`
	// SampleRate and Channels (audio).
	SampleRate int `json:"sampleRate,omitempty"`
	Channels   int `json:"channels,omitempty"`
	// Init is the init segment file name of this version.
	Init string `json:"init"`
}

// Version is one init version: the tracks as they were after a codec (re)configuration.
type Version struct {
	Number int     `json:"version"`
	Tracks []Track `json:"tracks"`
}

// SegmentTrack is one track's file of a segment.
type SegmentTrack struct {
	// File is the segment file name (relative to the session directory).
	File string `json:"file"`
	// BaseTime is the tfdt of the first sample, in the track timescale.
	BaseTime uint64 `json:"baseTime"`
	// Duration is the sum of sample durations, in the track timescale (0: no samples, a gap).
	Duration uint64 `json:"duration"`
	// Size is the file size in bytes.
	Size int64 `json:"size"`
	// PeriodBase is the BaseTime of this track at the start of the segment's
	// period (DASH presentationTimeOffset).
	PeriodBase uint64 `json:"periodBase,omitempty"`
}

// Segment is one complete media segment (all tracks).
type Segment struct {
	// MSN is the media sequence number, unique and increasing within a stream.
	MSN uint64 `json:"msn"`
	// Version is the init version the segment's samples are described by.
	Version int `json:"version"`
	// Discontinuity is true when timestamps or codec parameters do not continue from
	// the previous segment.
	Discontinuity bool `json:"discontinuity,omitempty"`
	// NotIndependent is true when the segment does not start with a key frame: the
	// packager ends the first segment of a run after its first part (playable at
	// once) and the next segment continues that GOP up to the next key frame.
	NotIndependent bool `json:"notIndependent,omitempty"`
	// PDT is the wall-clock time of the first sample (EXT-X-PROGRAM-DATE-TIME).
	PDT time.Time `json:"pdt"`
	// Duration is the duration of the leading (video) track.
	Duration time.Duration `json:"duration"`
	// Tracks is indexed like Version.Tracks.
	Tracks []SegmentTrack `json:"tracks"`
	// Period is the MSN of the first segment of the run of continuous segments of
	// one init version this segment belongs to (a DASH Period), and PeriodStart
	// that run's start relative to Timeline.Start.
	Period      uint64        `json:"period"`
	PeriodStart time.Duration `json:"periodStart"`

	// Dir is the directory holding the files (not stored in the index).
	Dir string `json:"-"`
	// Parts are the LL-HLS parts; live only (not stored in the index).
	Parts []*Part `json:"-"`
}

// TrackDuration returns the duration of track i in this segment.
func (s *Segment) TrackDuration(i int, timeScale uint32) time.Duration {
	return TicksToDuration(s.Tracks[i].Duration, timeScale)
}

// Part is one LL-HLS partial segment (all tracks).
type Part struct {
	// Seq is the stream-wide part sequence number used in part URIs.
	Seq uint64
	// Independent is true when the part starts with a video keyframe.
	Independent bool
	// Duration is the duration of the leading track's part.
	Duration time.Duration
	// Tracks is indexed like Version.Tracks.
	Tracks []PartTrack
}

// PartTrack is one track's fragment (moof+mdat) of a part.
type PartTrack struct {
	// Offset and Size locate the fragment inside the segment file.
	Offset int64
	Size   int
	// Duration in the track timescale (0: no samples, a gap).
	Duration uint64
}

// Timeline is an immutable snapshot of a live stream's playlist state.
type Timeline struct {
	// Versions are the init versions referenced by Segments and Parts, oldest first.
	Versions []*Version
	// Segments are the complete segments in the live window, oldest first.
	Segments []*Segment
	// History records every complete segment of the last period, the window's
	// included (nil when unknown).
	History *History
	// Current is the segment in progress (its Parts so far); nil before the first
	// part and after the end.
	Current *Segment
	// NextPartSeq is the sequence number the next part will have (preload hint).
	NextPartSeq uint64
	// TargetDuration is EXT-X-TARGETDURATION in seconds, never decreasing.
	TargetDuration int
	// DiscontinuitySequence counts discontinuities that left the window.
	DiscontinuitySequence int
	// PartTarget is EXT-X-PART-INF PART-TARGET, never decreasing.
	PartTarget time.Duration
	// Start is the wall-clock time of media time zero (DASH availabilityStartTime).
	Start time.Time
	// Ended is true once the publish stopped; no more parts will come.
	Ended bool
	// Updated is when this snapshot was made.
	Updated time.Time
}

// Version returns the init version n, or nil.
func (t *Timeline) Version(n int) *Version {
	for _, v := range t.Versions {
		if v.Number == n {
			return v
		}
	}
	return nil
}

// Latest returns the newest init version, or nil.
func (t *Timeline) Latest() *Version {
	if len(t.Versions) == 0 {
		return nil
	}
	return t.Versions[len(t.Versions)-1]
}

// LastMSN returns the MSN of the segment in progress, or of the last complete one.
func (t *Timeline) LastMSN() uint64 {
	if t.Current != nil {
		return t.Current.MSN
	}
	if n := len(t.Segments); n > 0 {
		return t.Segments[n-1].MSN
	}
	return 0
}

// TrackName returns the file-name stem of a track.
func TrackName(kind Kind, id int) string {
	return string(kind) + strconv.Itoa(id)
}

// InitFile returns the init segment file name of a track in version v.
func InitFile(track string, v int) string {
	return track + "_init" + strconv.Itoa(v) + ".mp4"
}

// SegmentFile returns the media segment file name of a track.
func SegmentFile(track string, msn uint64) string {
	return track + "_" + strconv.FormatUint(msn, 10) + ".m4s"
}

// PartFile returns the URI name of a part of a track.
func PartFile(track string, seq uint64) string {
	return track + "_p" + strconv.FormatUint(seq, 10) + ".m4s"
}

// TicksToDuration converts timescale ticks to a duration without overflow.
func TicksToDuration(v uint64, timeScale uint32) time.Duration {
	ts := uint64(timeScale)
	return time.Duration(v/ts)*time.Second + time.Duration((v%ts)*uint64(time.Second)/ts)
}

// DurationToTicks converts a duration to timescale ticks without overflow (d ≥ 0).
func DurationToTicks(d time.Duration, timeScale uint32) int64 {
	ts := int64(timeScale)
	secs := int64(d / time.Second)
	rem := int64(d % time.Second)
	return secs*ts + rem*ts/int64(time.Second)
}
