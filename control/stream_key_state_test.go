package control

import "testing"

func TestParseStreamKeyState(t *testing.T) {
	cases := []struct {
		in      string
		want    StreamKeyState
		wantErr bool
	}{
		{"INACTIVE", StreamKeyStateInactive, false},
		{"ACTIVE", StreamKeyStateActive, false},
		{"ACTIVE_LIVE", StreamKeyStateActiveLive, false},
		{"INACTIVE_LIVE", StreamKeyStateInactiveLive, false},
		{"", StreamKeyStateUnknown, true},
		{"active", StreamKeyStateUnknown, true},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseStreamKeyState(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseStreamKeyState(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseStreamKeyState(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err == nil && got.String() != string(got) {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}
