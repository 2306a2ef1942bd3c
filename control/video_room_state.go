package control

import "fmt"

// VideoRoomState is the broadcast state of a VideoRoom.
// The zero value is VideoRoomStateUnknown, which also stands for "no room" in the
// state machine (a stream key that is not bound to a room).
type VideoRoomState string

// VideoRoomState values.
const (
	VideoRoomStateUnknown      VideoRoomState = ""
	VideoRoomStateScheduled    VideoRoomState = "SCHEDULED"
	VideoRoomStateCancelled    VideoRoomState = "CANCELLED"
	VideoRoomStateLive         VideoRoomState = "LIVE"
	VideoRoomStateLiveInactive VideoRoomState = "LIVE_INACTIVE"
	VideoRoomStateEnded        VideoRoomState = "ENDED"
)

// String returns the API spelling of s.
func (s VideoRoomState) String() string { return string(s) }

// ParseVideoRoomState parses the API spelling of a VideoRoomState.
func ParseVideoRoomState(v string) (VideoRoomState, error) {
	switch s := VideoRoomState(v); s {
	case VideoRoomStateScheduled, VideoRoomStateCancelled, VideoRoomStateLive,
		VideoRoomStateLiveInactive, VideoRoomStateEnded:
		return s, nil
	}
	return VideoRoomStateUnknown, fmt.Errorf("unknown videoRoomState %q", v)
}
