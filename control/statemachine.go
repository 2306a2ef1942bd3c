package control

import "errors"

// RoomEvent is what can happen to a (room, stream key) pair.
type RoomEvent int

// roomEvent values.
const (
	eventUnknown        RoomEvent = iota
	EventStart                    // API: start the broadcast
	EventEnd                      // API (or autoEnd): end the broadcast
	EventCancel                   // API: cancel a scheduled room
	EventForceEnd                 // API with force, or the maximum live duration: end a live broadcast
	eventPublishStarted           // ingest: the key started publishing
	eventPublishStopped           // ingest: the key stopped publishing
)

// String names the event for logs and tests.
func (e RoomEvent) String() string {
	switch e {
	case EventStart:
		return "start"
	case EventEnd:
		return "end"
	case EventCancel:
		return "cancel"
	case EventForceEnd:
		return "force_end"
	case eventPublishStarted:
		return "publish_started"
	case eventPublishStopped:
		return "publish_stopped"
	}
	return "unknown"
}

// states is the pair the state machine works on. Room is VideoRoomStateUnknown when
// the stream key is not bound to a room (publish events on an idle key).
type states struct {
	Room VideoRoomState
	Key  StreamKeyState
}

// outcome is the result of a transition.
type outcome struct {
	states
	// NewSession: the room went LIVE and a new live session begins (start or resume).
	NewSession bool
}

// errKeyNotPublishing: a publish-stopped event for a key that is not publishing.
var errKeyNotPublishing = errors.New("stream key is not publishing")

// errInconsistent: the stored pair violates an invariant (a key bound to a room
// that is not LIVE/LIVE_INACTIVE, or the reverse).
var errInconsistent = errors.New("inconsistent room and stream key states")

// transition is the VideoRoom state machine, as one pure
// function. It returns the new states or the API error of the seeds:
//
//	event            requires                               gives
//	start            room SCHEDULED, key ACTIVE             LIVE, ACTIVE_LIVE, new session
//	end              room LIVE_INACTIVE, key INACTIVE_LIVE  ENDED, INACTIVE
//	force end        room LIVE, key ACTIVE_LIVE                ENDED, ACTIVE (still publishing:
//	                                                        the publisher is disconnected next)
//	                 room LIVE_INACTIVE, key INACTIVE_LIVE  ENDED, INACTIVE
//	cancel           room SCHEDULED                         CANCELLED, key unchanged
//	publish started  key INACTIVE                           key ACTIVE (room unchanged)
//	                 key INACTIVE_LIVE, room LIVE_INACTIVE  LIVE, ACTIVE_LIVE, new session
//	publish stopped  key ACTIVE                             key INACTIVE
//	                 key ACTIVE_LIVE, room LIVE             LIVE_INACTIVE, INACTIVE_LIVE
//
// Checks run in the order of the seeds' error tables: room state first, then key.
func transition(cur states, ev RoomEvent) (outcome, error) {
	switch ev {
	case EventStart:
		if cur.Room != VideoRoomStateScheduled {
			return outcome{}, ErrVideoRoomStateNotScheduled
		}
		if cur.Key != StreamKeyStateActive {
			return outcome{}, ErrStreamKeyStateNotActive
		}
		return outcome{states{VideoRoomStateLive, StreamKeyStateActiveLive}, true}, nil
	case EventEnd:
		if cur.Room != VideoRoomStateLiveInactive {
			return outcome{}, ErrVideoRoomStateNotLiveInact
		}
		if cur.Key != StreamKeyStateInactiveLive {
			return outcome{}, ErrStreamKeyStateNotInactLive
		}
		return outcome{states: states{VideoRoomStateEnded, StreamKeyStateInactive}}, nil
	case EventCancel:
		if cur.Room != VideoRoomStateScheduled {
			return outcome{}, ErrVideoRoomStateNotScheduled
		}
		return outcome{states: states{VideoRoomStateCancelled, cur.Key}}, nil
	case EventForceEnd:
		return forceEnd(cur)
	case eventPublishStarted:
		return publishStarted(cur)
	case eventPublishStopped:
		return publishStopped(cur)
	}
	return outcome{}, errors.New("unknown room event")
}

// forceEnd is the "force end" row of transition. The key of a LIVE room stays
// publishing (unbound, as in a preview) until its publisher is disconnected and
// the ingest reports the stop: a reconnect meanwhile is refused as a second
// publisher, and the stop finds the key it expects.
func forceEnd(cur states) (outcome, error) {
	switch cur.Room {
	case VideoRoomStateLive:
		if cur.Key != StreamKeyStateActiveLive {
			return outcome{}, errInconsistent
		}
		return outcome{states: states{VideoRoomStateEnded, StreamKeyStateActive}}, nil
	case VideoRoomStateLiveInactive:
		if cur.Key != StreamKeyStateInactiveLive {
			return outcome{}, ErrStreamKeyStateNotInactLive
		}
		return outcome{states: states{VideoRoomStateEnded, StreamKeyStateInactive}}, nil
	}
	return outcome{}, ErrVideoRoomStateNotLiveInact.WithMessage("only a LIVE or LIVE_INACTIVE room can be ended")
}

// publishStarted is the "publish started" row of transition.
func publishStarted(cur states) (outcome, error) {
	switch cur.Key {
	case StreamKeyStateActive, StreamKeyStateActiveLive:
		return outcome{}, ErrAlreadyPublishing
	case StreamKeyStateInactive:
		if cur.Room != VideoRoomStateUnknown {
			return outcome{}, errInconsistent
		}
		return outcome{states: states{VideoRoomStateUnknown, StreamKeyStateActive}}, nil
	case StreamKeyStateInactiveLive:
		if cur.Room != VideoRoomStateLiveInactive {
			return outcome{}, errInconsistent
		}
		return outcome{states{VideoRoomStateLive, StreamKeyStateActiveLive}, true}, nil
	}
	return outcome{}, errInconsistent
}

// publishStopped is the "publish stopped" row of transition.
func publishStopped(cur states) (outcome, error) {
	switch cur.Key {
	case StreamKeyStateInactive, StreamKeyStateInactiveLive:
		return outcome{}, errKeyNotPublishing
	case StreamKeyStateActive:
		if cur.Room != VideoRoomStateUnknown {
			return outcome{}, errInconsistent
		}
		return outcome{states: states{VideoRoomStateUnknown, StreamKeyStateInactive}}, nil
	case StreamKeyStateActiveLive:
		if cur.Room != VideoRoomStateLive {
			return outcome{}, errInconsistent
		}
		return outcome{states: states{VideoRoomStateLiveInactive, StreamKeyStateInactiveLive}}, nil
	}
	return outcome{}, errInconsistent
}

// vodEvent is what happens to a room's archive.
type vodEvent int

// vodEvent values.
const (
	vodEventUnknown  vodEvent = iota
	vodEventEnded             // the room ended: archiving starts
	vodEventArchived          // the packager finished the archive
	vodEventFailed            // the packager could not archive
)

// vodTransition is the VOD state machine ("VideoRoom VOD State").
func vodTransition(cur VODState, ev vodEvent) (VODState, error) {
	switch {
	case ev == vodEventEnded && cur == VODStateNotArchived:
		return VODStateArchiving, nil
	case ev == vodEventArchived && cur == VODStateArchiving:
		return VODStateArchived, nil
	case ev == vodEventFailed && cur == VODStateArchiving:
		return VODStateFailedArchiving, nil
	}
	return cur, ErrInvalidRequest.WithMessage("vodState %s does not allow this change", cur)
}
