package control

import "testing"

func TestParseMode(t *testing.T) {
	cases := []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"", ModeCMAF, false},
		{"CMAF", ModeCMAF, false},
		{"RTMP", ModeRTMP, false},
		{"RTMP_CMAF", ModeRTMPCMAF, false},
		{"cmaf", ModeUnknown, true},
		{"HLS", ModeUnknown, true},
		{"CMAF ", ModeUnknown, true},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseMode(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseMode(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseMode(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err == nil && got.String() != string(got) {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}
