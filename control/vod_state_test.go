package control

import "testing"

func TestParseVODState(t *testing.T) {
	cases := []struct {
		in      string
		want    VODState
		wantErr bool
	}{
		{"NOT_ARCHIVED", VODStateNotArchived, false},
		{"ARCHIVING", VODStateArchiving, false},
		{"ARCHIVED", VODStateArchived, false},
		{"FAILED_ARCHIVING", VODStateFailedArchiving, false},
		{"", VODStateUnknown, true},
		{"FAILED", VODStateUnknown, true},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseVODState(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseVODState(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseVODState(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err == nil && got.String() != string(got) {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}
