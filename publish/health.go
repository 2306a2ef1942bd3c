package publish

import "time"

// Health is the measured state of one live publish, as the room JSON
// (stats.ingest) and the health endpoint show it. Every number is measured from
// the media the server received, not taken from the encoder's metadata; the
// software fields are what the encoder said about itself.
type Health struct {
	// StartedAt is when this publish started, SampledAt when these numbers were
	// measured (UTC; once a second).
	StartedAt time.Time `json:"startedAt"`
	SampledAt time.Time `json:"sampledAt"`
	// RemoteAddr is the publisher's address (host:port).
	RemoteAddr string `json:"remoteAddr"`
	// FlashVer is the connect command's flashVer; Encoder onMetaData's "encoder".
	FlashVer string `json:"flashVer"`
	Encoder  string `json:"encoder"`
	// Video is null for an audio-only publish (and until the first video tag).
	Video *VideoHealth `json:"video"`
	// Audio is null for a video-only publish (and until the first audio tag).
	Audio *AudioHealth `json:"audio"`
	// BitrateKbps is the ingest bitrate over the last 3 seconds; AvgBitrateKbps the
	// average since the publish started (both audio + video payload, kbit/s).
	BitrateKbps    float64 `json:"bitrateKbps"`
	AvgBitrateKbps float64 `json:"avgBitrateKbps"`
	// FramesRepaired counts timestamps the ingest repaired, FramesDropped the
	// tags it dropped, TimestampJumps the forward jumps in the stream's clock.
	FramesRepaired int64 `json:"framesRepaired"`
	FramesDropped  int64 `json:"framesDropped"`
	TimestampJumps int64 `json:"timestampJumps"`
	// IngestLagMs is how far the stream's clock is behind real time: the media
	// time received against the wall clock, relative to the earliest arrival seen
	// (0: media arrives in real time; a baseline rising by 0.5 ms per second absorbs
	// encoder clock drift).
	IngestLagMs int64 `json:"ingestLagMs"`
	// Warnings are the health warnings active now (HealthWarning names).
	Warnings []HealthWarning `json:"warnings"`
}

// VideoHealth is the measured video track of a publish.
type VideoHealth struct {
	Codec   string `json:"codec"`   // "H264", "H265", "AV1", …
	Profile string `json:"profile"` // e.g. "High"
	Level   string `json:"level"`   // e.g. "3.1"
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	// FrameRate is measured from the frame timestamps over the last 2 seconds
	// (frames per second).
	FrameRate float64 `json:"frameRate"`
	// KeyframeIntervalSeconds is the measured distance between the last two key
	// frames, or the time since the last key frame when that is longer.
	KeyframeIntervalSeconds float64 `json:"keyframeIntervalSeconds"`
}

// AudioHealth is the measured audio track of a publish.
type AudioHealth struct {
	Codec      string `json:"codec"` // "AAC", "Opus", "MP3", …
	SampleRate int    `json:"sampleRate"`
	Channels   int    `json:"channels"`
}

// HealthWarning names a health warning; its event is "stream_health.<name>" and
// the end of it "stream_health.<name>_resolved".
type HealthWarning string

// Health warnings.
const (
	// WarnKeyframeInterval: key frames more than 4 s apart (long segments, high latency).
	WarnKeyframeInterval HealthWarning = "keyframe_interval_high"
	// WarnBitrateLow: bitrate below a third of its average for 10 s.
	WarnBitrateLow HealthWarning = "bitrate_low"
	// WarnFrameRateDrop: the frame rate fell well below the publish's usual rate.
	WarnFrameRateDrop HealthWarning = "frame_rate_drop"
	// WarnIngestLag: media arrives more than 1 s behind real time.
	WarnIngestLag HealthWarning = "ingest_lag_high"
)

// String returns the warning's name.
func (w HealthWarning) String() string { return string(w) }

// HealthWarnings are every health warning, in a fixed order.
var HealthWarnings = []HealthWarning{WarnKeyframeInterval, WarnBitrateLow, WarnFrameRateDrop, WarnIngestLag}

// HealthSample is one second of a publish's health history.
type HealthSample struct {
	// At is the end of the second (UTC).
	At time.Time `json:"at"`
	// BitrateKbps is the audio + video payload received during that second.
	BitrateKbps float64 `json:"bitrateKbps"`
	// FrameRate and KeyframeIntervalSeconds are the values Health showed then (0
	// without video).
	FrameRate               float64 `json:"frameRate"`
	KeyframeIntervalSeconds float64 `json:"keyframeIntervalSeconds"`
	// IngestLagMs is the ingest lag then.
	IngestLagMs int64 `json:"ingestLagMs"`
}

// HealthCause says why a warning ended.
type HealthCause string

// Causes of a resolved warning.
const (
	// CauseRecovered: the measure is back within its threshold.
	CauseRecovered HealthCause = "RECOVERED"
	// CausePublishStopped: the publish ended while the warning was active.
	CausePublishStopped HealthCause = "PUBLISH_STOPPED"
)

// HealthChange is a health warning of one publish being raised or resolved.
type HealthChange struct {
	// StreamID is the publish's stream (its stream key's ID).
	StreamID StreamID
	Warning  HealthWarning
	// Resolved is false when the warning is raised, true when it ends; Cause
	// says why it ended.
	Resolved bool
	Cause    HealthCause
	// Value is the measure that raised or resolved the warning, Threshold the
	// limit it is compared with (seconds for the keyframe interval, kbit/s for
	// the bitrate, frames per second, milliseconds of lag).
	Value, Threshold float64
	// Health is the publish's health when the change happened.
	Health Health
}
