package control

import "testing"

func TestParseVideoRoomState(t *testing.T) {
	cases := []struct {
		in      string
		want    VideoRoomState
		wantErr bool
	}{
		{"SCHEDULED", VideoRoomStateScheduled, false},
		{"CANCELLED", VideoRoomStateCancelled, false},
		{"LIVE", VideoRoomStateLive, false},
		{"LIVE_INACTIVE", VideoRoomStateLiveInactive, false},
		{"ENDED", VideoRoomStateEnded, false},
		{"", VideoRoomStateUnknown, true},
		{"live", VideoRoomStateUnknown, true},
		{"STARTED", VideoRoomStateUnknown, true},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseVideoRoomState(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseVideoRoomState(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseVideoRoomState(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err == nil && got.String() != string(got) {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}
