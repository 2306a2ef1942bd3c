package control

import "testing"

func TestParseAccessLevel(t *testing.T) {
	cases := []struct {
		in      string
		want    AccessLevel
		wantErr bool
	}{
		{"PUBLIC", AccessLevelPublic, false},
		{"APP", AccessLevelApp, false},
		{"MEMBER", AccessLevelMember, false},
		{"FRIEND", AccessLevelFriend, false},
		{"FOLLOWER", AccessLevelFollower, false},
		{"RESTRICTED", AccessLevelRestricted, false},
		{"PRIVATE", AccessLevelPrivate, false},
		{"", AccessLevelUnknown, true},
		{"public", AccessLevelUnknown, true},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseAccessLevel(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseAccessLevel(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseAccessLevel(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err == nil && got.String() != string(got) {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}
