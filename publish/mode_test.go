package publish

import (
	"errors"
	"testing"
)

// TestParseMode is the one mode rule: case-insensitive, "" is CMAF, anything
// else refused (the cases ingest and control each tested for their own parser).
func TestParseMode(t *testing.T) {
	cases := []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"", ModeCMAF, true},
		{"CMAF", ModeCMAF, true},
		{"RTMP", ModeRTMP, true},
		{"RTMP_CMAF", ModeRTMPCMAF, true},
		{"cmaf", ModeCMAF, true},
		{"rtmp", ModeRTMP, true},
		{"rtmp_cmaf", ModeRTMPCMAF, true},
		{"Rtmp_Cmaf", ModeRTMPCMAF, true},
		{"HLS", ModeUnknown, false},
		{"x", "", false},
		{"CMAF ", "", false},
		{" CMAF", "", false},
		{"RTMP-CMAF", "", false},
		{"RTMPCMAF", "", false},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseMode(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("ParseMode(%q) = %q, %v; want %q (ok %v)", tc.in, got, err, tc.want, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidMode) {
				t.Fatalf("ParseMode(%q) error %v does not wrap ErrInvalidMode", tc.in, err)
			}
			if tc.ok && (!got.Valid() || got.String() != string(tc.want)) {
				t.Fatalf("ParseMode(%q) = %q: Valid %v, String %q", tc.in, got, got.Valid(), got.String())
			}
		})
	}
}

func TestModeOutputs(t *testing.T) {
	for _, tc := range []struct {
		m          Mode
		cmaf, rtmp bool
	}{
		{ModeCMAF, true, false},
		{ModeRTMP, false, true},
		{ModeRTMPCMAF, true, true},
		{ModeUnknown, false, false},
		{"cmaf", false, false}, // not parsed: not a Mode value
	} {
		if tc.m.HasCMAF() != tc.cmaf || tc.m.HasRTMP() != tc.rtmp {
			t.Errorf("%q: HasCMAF %v HasRTMP %v, want %v %v", tc.m, tc.m.HasCMAF(), tc.m.HasRTMP(), tc.cmaf, tc.rtmp)
		}
		if tc.m.Valid() != (tc.cmaf || tc.rtmp) {
			t.Errorf("%q: Valid %v", tc.m, tc.m.Valid())
		}
	}
}
