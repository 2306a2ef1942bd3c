package control

import "testing"

func TestParseVideoRoomType(t *testing.T) {
	cases := []struct {
		in      string
		want    VideoRoomType
		wantErr bool
	}{
		{"BROADCAST_RTMP", VideoRoomTypeBroadcastRTMP, false},
		{"VIDEO_CONFERENCE", VideoRoomTypeVideoConference, false},
		{"WEBINAR", VideoRoomTypeWebinar, false},
		{"VIDEO_SURVEILLANCE", VideoRoomTypeVideoSurveillance, false},
		{"", VideoRoomTypeUnknown, true},
		{"SURVEILLANCE", VideoRoomTypeUnknown, true},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseVideoRoomType(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseVideoRoomType(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseVideoRoomType(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err == nil && got.String() != string(got) {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}
