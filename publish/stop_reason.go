package publish

// StopReason says why a publish ended; it is recorded with the "publish stopped"
// transition and sent in the stream_key.publish_stopped event.
type StopReason string

// Stop reasons.
const (
	StopUnknown StopReason = ""
	// StopClientUnpublish: the publisher sent FCUnpublish/deleteStream.
	StopClientUnpublish StopReason = "CLIENT_UNPUBLISH"
	// StopIdleTimeout: no media (or no bytes at all) for the ingest idle timeout.
	StopIdleTimeout StopReason = "IDLE_TIMEOUT"
	// StopConnectionError: the connection broke without an unpublish.
	StopConnectionError StopReason = "CONNECTION_ERROR"
	// StopInvalidMedia: undecodable media (broken codec configuration, garbage,
	// oversized messages, no track at all), or RTMP input the ingest chunk guard
	// refused (a malformed chunk stream, AMF0 declaring more than it holds).
	StopInvalidMedia StopReason = "INVALID_MEDIA"
	// StopBitrateExceeded: the publisher sent more than the ingest bitrate limit.
	StopBitrateExceeded StopReason = "BITRATE_EXCEEDED"
	// StopKeyReset: the stream key was reset while publishing.
	StopKeyReset StopReason = "KEY_RESET"
	// StopKicked: an operator ended the broadcast with force.
	StopKicked StopReason = "KICKED"
	// StopMaxDuration: the broadcast reached its maximum live duration
	// (autoCloseConfig, or the server's default).
	StopMaxDuration StopReason = "MAX_DURATION"
	// StopStorageError: the stream could not be written (media disk full, no file
	// descriptor left, I/O error); the encoder's reconnect resumes it once the
	// resource is back.
	StopStorageError StopReason = "STORAGE_ERROR"
	// StopServerShutdown: the server is closing.
	StopServerShutdown StopReason = "SERVER_SHUTDOWN"
	// StopServerRestart: the key was still marked publishing when the server
	// started (the previous process died with the stream up).
	StopServerRestart StopReason = "SERVER_RESTART"
	// StopNodeLost: the cluster node that ingested the stream died or lost the
	// cluster (its lease expired); another node applied "publish stopped". The
	// encoder's reconnect, to any node, resumes the room.
	StopNodeLost StopReason = "NODE_LOST"
)

// String returns the reason as sent in events.
func (r StopReason) String() string { return string(r) }

// ParseStopReason returns the StopReason named s (exact spelling, as String
// writes it), or StopUnknown.
func ParseStopReason(s string) StopReason {
	switch r := StopReason(s); r {
	case StopClientUnpublish, StopIdleTimeout, StopConnectionError, StopInvalidMedia,
		StopBitrateExceeded, StopKeyReset, StopKicked, StopMaxDuration, StopStorageError, StopServerShutdown, StopServerRestart, StopNodeLost:
		return r
	}
	return StopUnknown
}
