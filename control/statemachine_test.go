package control

import (
	"errors"
	"testing"
)

// transitionCases are the rows of the VideoRoom state table and the error
// tables of "Start/End VideoRoom RTMP Broadcast", one per row.
var transitionCases = []struct {
	name    string
	cur     states
	ev      RoomEvent
	want    outcome
	wantErr error
}{
	// start (requires SCHEDULED; key must have reached publish state)
	{"start/scheduled+active", states{VideoRoomStateScheduled, StreamKeyStateActive}, EventStart,
		outcome{states{VideoRoomStateLive, StreamKeyStateActiveLive}, true}, nil},
	{"start/scheduled+inactive", states{VideoRoomStateScheduled, StreamKeyStateInactive}, EventStart,
		outcome{}, ErrStreamKeyStateNotActive},
	{"start/scheduled+key-live-elsewhere", states{VideoRoomStateScheduled, StreamKeyStateActiveLive}, EventStart,
		outcome{}, ErrStreamKeyStateNotActive},
	{"start/scheduled+key-inactive-live-elsewhere", states{VideoRoomStateScheduled, StreamKeyStateInactiveLive}, EventStart,
		outcome{}, ErrStreamKeyStateNotActive},
	{"start/live", states{VideoRoomStateLive, StreamKeyStateActiveLive}, EventStart,
		outcome{}, ErrVideoRoomStateNotScheduled},
	{"start/live-inactive", states{VideoRoomStateLiveInactive, StreamKeyStateInactiveLive}, EventStart,
		outcome{}, ErrVideoRoomStateNotScheduled},
	{"start/ended", states{VideoRoomStateEnded, StreamKeyStateActive}, EventStart,
		outcome{}, ErrVideoRoomStateNotScheduled},
	{"start/cancelled", states{VideoRoomStateCancelled, StreamKeyStateActive}, EventStart,
		outcome{}, ErrVideoRoomStateNotScheduled},

	// end (requires LIVE_INACTIVE; ingest must be stopped first)
	{"end/live-inactive+inactive-live", states{VideoRoomStateLiveInactive, StreamKeyStateInactiveLive}, EventEnd,
		outcome{states: states{VideoRoomStateEnded, StreamKeyStateInactive}}, nil},
	{"end/live", states{VideoRoomStateLive, StreamKeyStateActiveLive}, EventEnd,
		outcome{}, ErrVideoRoomStateNotLiveInact},
	{"end/scheduled", states{VideoRoomStateScheduled, StreamKeyStateActive}, EventEnd,
		outcome{}, ErrVideoRoomStateNotLiveInact},
	{"end/ended", states{VideoRoomStateEnded, StreamKeyStateInactive}, EventEnd,
		outcome{}, ErrVideoRoomStateNotLiveInact},
	{"end/live-inactive+active-live", states{VideoRoomStateLiveInactive, StreamKeyStateActiveLive}, EventEnd,
		outcome{}, ErrStreamKeyStateNotInactLive},
	{"end/live-inactive+inactive", states{VideoRoomStateLiveInactive, StreamKeyStateInactive}, EventEnd,
		outcome{}, ErrStreamKeyStateNotInactLive},

	// force end (LIVE or LIVE_INACTIVE; a LIVE room's key stays publishing until
	// its publisher is disconnected)
	{"force-end/live", states{VideoRoomStateLive, StreamKeyStateActiveLive}, EventForceEnd,
		outcome{states: states{VideoRoomStateEnded, StreamKeyStateActive}}, nil},
	{"force-end/live-inactive", states{VideoRoomStateLiveInactive, StreamKeyStateInactiveLive}, EventForceEnd,
		outcome{states: states{VideoRoomStateEnded, StreamKeyStateInactive}}, nil},
	{"force-end/scheduled", states{VideoRoomStateScheduled, StreamKeyStateActive}, EventForceEnd,
		outcome{}, ErrVideoRoomStateNotLiveInact},
	{"force-end/ended", states{VideoRoomStateEnded, StreamKeyStateInactive}, EventForceEnd,
		outcome{}, ErrVideoRoomStateNotLiveInact},
	{"force-end/live+inactive-live", states{VideoRoomStateLive, StreamKeyStateInactiveLive}, EventForceEnd,
		outcome{}, errInconsistent},
	{"force-end/live-inactive+active-live", states{VideoRoomStateLiveInactive, StreamKeyStateActiveLive}, EventForceEnd,
		outcome{}, ErrStreamKeyStateNotInactLive},

	// cancel (requires SCHEDULED)
	{"cancel/scheduled", states{VideoRoomStateScheduled, StreamKeyStateActive}, EventCancel,
		outcome{states: states{VideoRoomStateCancelled, StreamKeyStateActive}}, nil},
	{"cancel/scheduled+inactive", states{VideoRoomStateScheduled, StreamKeyStateInactive}, EventCancel,
		outcome{states: states{VideoRoomStateCancelled, StreamKeyStateInactive}}, nil},
	{"cancel/scheduled+key-live-elsewhere", states{VideoRoomStateScheduled, StreamKeyStateActiveLive}, EventCancel,
		outcome{states: states{VideoRoomStateCancelled, StreamKeyStateActiveLive}}, nil},
	{"cancel/scheduled+key-inactive-live-elsewhere", states{VideoRoomStateScheduled, StreamKeyStateInactiveLive}, EventCancel,
		outcome{states: states{VideoRoomStateCancelled, StreamKeyStateInactiveLive}}, nil},
	{"cancel/live", states{VideoRoomStateLive, StreamKeyStateActiveLive}, EventCancel,
		outcome{}, ErrVideoRoomStateNotScheduled},
	{"cancel/ended", states{VideoRoomStateEnded, StreamKeyStateInactive}, EventCancel,
		outcome{}, ErrVideoRoomStateNotScheduled},
	{"cancel/cancelled", states{VideoRoomStateCancelled, StreamKeyStateInactive}, EventCancel,
		outcome{}, ErrVideoRoomStateNotScheduled},

	// publish started
	{"publish-started/idle", states{VideoRoomStateUnknown, StreamKeyStateInactive}, eventPublishStarted,
		outcome{states: states{VideoRoomStateUnknown, StreamKeyStateActive}}, nil},
	{"publish-started/resume", states{VideoRoomStateLiveInactive, StreamKeyStateInactiveLive}, eventPublishStarted,
		outcome{states{VideoRoomStateLive, StreamKeyStateActiveLive}, true}, nil},
	{"publish-started/already-preview", states{VideoRoomStateUnknown, StreamKeyStateActive}, eventPublishStarted,
		outcome{}, ErrAlreadyPublishing},
	{"publish-started/already-live", states{VideoRoomStateLive, StreamKeyStateActiveLive}, eventPublishStarted,
		outcome{}, ErrAlreadyPublishing},
	{"publish-started/bound-but-room-live", states{VideoRoomStateLive, StreamKeyStateInactiveLive}, eventPublishStarted,
		outcome{}, errInconsistent},

	// publish stopped
	{"publish-stopped/preview", states{VideoRoomStateUnknown, StreamKeyStateActive}, eventPublishStopped,
		outcome{states: states{VideoRoomStateUnknown, StreamKeyStateInactive}}, nil},
	{"publish-stopped/live", states{VideoRoomStateLive, StreamKeyStateActiveLive}, eventPublishStopped,
		outcome{states: states{VideoRoomStateLiveInactive, StreamKeyStateInactiveLive}}, nil},
	{"publish-stopped/not-publishing", states{VideoRoomStateUnknown, StreamKeyStateInactive}, eventPublishStopped,
		outcome{}, errKeyNotPublishing},
	{"publish-stopped/not-publishing-bound", states{VideoRoomStateLiveInactive, StreamKeyStateInactiveLive}, eventPublishStopped,
		outcome{}, errKeyNotPublishing},
	{"publish-stopped/active-live-room-inactive", states{VideoRoomStateLiveInactive, StreamKeyStateActiveLive}, eventPublishStopped,
		outcome{}, errInconsistent},
}

func TestTransition(t *testing.T) {
	for _, tc := range transitionCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := transition(tc.cur, tc.ev)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("transition(%v, %v) error = %v, want %v", tc.cur, tc.ev, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("transition(%v, %v) = %+v, want %+v", tc.cur, tc.ev, got, tc.want)
			}
		})
	}
}

// TestTransitionClosed checks that every (room, key, event) combination outside the
// allowed rows is refused: the table above is the whole machine.
func TestTransitionClosed(t *testing.T) {
	rooms := []VideoRoomState{VideoRoomStateUnknown, VideoRoomStateScheduled, VideoRoomStateCancelled,
		VideoRoomStateLive, VideoRoomStateLiveInactive, VideoRoomStateEnded}
	keys := []StreamKeyState{StreamKeyStateInactive, StreamKeyStateActive, StreamKeyStateActiveLive,
		StreamKeyStateInactiveLive}
	allowed := map[struct {
		s  states
		ev RoomEvent
	}]bool{}
	for _, tc := range transitionCases {
		if tc.wantErr == nil {
			allowed[struct {
				s  states
				ev RoomEvent
			}{tc.cur, tc.ev}] = true
		}
	}
	for _, r := range rooms {
		for _, k := range keys {
			for ev := EventStart; ev <= eventPublishStopped; ev++ {
				cur := states{r, k}
				_, err := transition(cur, ev)
				ok := allowed[struct {
					s  states
					ev RoomEvent
				}{cur, ev}]
				if ok != (err == nil) {
					t.Errorf("transition(%v, %v): err = %v, allowed = %v", cur, ev, err, ok)
				}
			}
		}
	}
	if _, err := transition(states{}, eventUnknown); err == nil {
		t.Error("unknown event accepted")
	}
}

func TestVODTransition(t *testing.T) {
	cases := []struct {
		name    string
		cur     VODState
		ev      vodEvent
		want    VODState
		wantErr bool
	}{
		{"ended", VODStateNotArchived, vodEventEnded, VODStateArchiving, false},
		{"archived", VODStateArchiving, vodEventArchived, VODStateArchived, false},
		{"failed", VODStateArchiving, vodEventFailed, VODStateFailedArchiving, false},
		{"archived-twice", VODStateArchived, vodEventArchived, VODStateArchived, true},
		{"archived-before-end", VODStateNotArchived, vodEventArchived, VODStateNotArchived, true},
		{"ended-twice", VODStateArchiving, vodEventEnded, VODStateArchiving, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := vodTransition(tc.cur, tc.ev)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("vodTransition(%v, %v) = %v, %v; want %v, err %v", tc.cur, tc.ev, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
