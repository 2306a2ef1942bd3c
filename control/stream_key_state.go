package control

import "fmt"

// StreamKeyState is (publishing?) × (bound to a LIVE/LIVE_INACTIVE room?) of a stream
// key.
type StreamKeyState string

// StreamKeyState values.
const (
	StreamKeyStateUnknown      StreamKeyState = ""
	StreamKeyStateInactive     StreamKeyState = "INACTIVE"      // not publishing, not bound
	StreamKeyStateActive       StreamKeyState = "ACTIVE"        // publishing (preview), not bound
	StreamKeyStateActiveLive   StreamKeyState = "ACTIVE_LIVE"   // publishing, bound
	StreamKeyStateInactiveLive StreamKeyState = "INACTIVE_LIVE" // not publishing, bound
)

// String returns the API spelling of s.
func (s StreamKeyState) String() string { return string(s) }

// ParseStreamKeyState parses the API spelling of a StreamKeyState.
func ParseStreamKeyState(v string) (StreamKeyState, error) {
	switch s := StreamKeyState(v); s {
	case StreamKeyStateInactive, StreamKeyStateActive, StreamKeyStateActiveLive,
		StreamKeyStateInactiveLive:
		return s, nil
	}
	return StreamKeyStateUnknown, fmt.Errorf("unknown streamKeyState %q", v)
}

// streamKeyStateOf derives the state from the stored flags.
func streamKeyStateOf(publishing, bound bool) StreamKeyState {
	switch {
	case publishing && bound:
		return StreamKeyStateActiveLive
	case publishing:
		return StreamKeyStateActive
	case bound:
		return StreamKeyStateInactiveLive
	}
	return StreamKeyStateInactive
}

// publishing reports whether a key in state s is receiving a stream.
func (s StreamKeyState) publishing() bool {
	return s == StreamKeyStateActive || s == StreamKeyStateActiveLive
}

// bound reports whether a key in state s is bound to a LIVE/LIVE_INACTIVE room.
func (s StreamKeyState) bound() bool {
	return s == StreamKeyStateActiveLive || s == StreamKeyStateInactiveLive
}
