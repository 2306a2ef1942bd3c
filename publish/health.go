package publish

import "time"

// Health is the measured state of one live publish, as the room JSON
// (stats.ingest) and the health endpoint show it. Every number is measured from
// the media the server received, not taken from the encoder's metadata; the
// software fields are what the encoder said about itself.
type Health struct {
	// StartedAt is when this publish started (UTC).
	StartedAt time.Time `json:"startedAt"`
	// RemoteAddr is the publisher's address (host:port).
	RemoteAddr string `json:"remoteAddr"`
	// FlashVer is the connect command's flashVer; Encoder onMetaData's "encoder".
	FlashVer string `json:"flashVer"`
	Encoder  string `json:"encoder"`
	// Video is null for an audio-only publish (and until the first video tag).
	Video *VideoHealth `json:"video"`
	// Audio is null for a video-only publish (and until the first audio tag).
	Audio *AudioHealth `json:"audio"`
	// BitrateKbps is the ingest bitrate over the last seconds; AvgBitrateKbps the
	// average since the publish started (both audio + video payload, kbit/s).
	BitrateKbps    float64 `json:"bitrateKbps"`
	AvgBitrateKbps float64 `json:"avgBitrateKbps"`
	// FramesRepaired counts timestamps the ingest repaired, FramesDropped the
	// tags it dropped, TimestampJumps the forward jumps in the stream's clock.
	FramesRepaired int64 `json:"framesRepaired"`
	FramesDropped  int64 `json:"framesDropped"`
	TimestampJumps int64 `json:"timestampJumps"`
	// IngestLagMs is how far the stream's clock is behind real time since the
	// publish started (positive: media arrives late).
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
	// FrameRate is measured from the frame timestamps (frames per second).
	FrameRate float64 `json:"frameRate"`
	// KeyframeIntervalSeconds is the measured distance between the last key frames.
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
