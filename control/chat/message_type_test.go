package chat

import "testing"

func TestParseChatMessageType(t *testing.T) {
	cases := []struct {
		in                string
		want              MessageType
		wantErr           bool
		broadcast, direct bool
	}{
		{"MESSAGE", MessageTypeMessage, false, true, false},
		{"DM", MessageTypeDM, false, false, true},
		{"COMMAND", MessageTypeCommand, false, true, true},
		{"", MessageTypeUnknown, true, false, false},
		{"message", MessageTypeUnknown, true, false, false},
		{"NOTICE", MessageTypeUnknown, true, false, false},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseMessageType(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParseMessageType(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
			if got.String() != string(got) {
				t.Fatalf("String() = %q", got.String())
			}
			if b, d := got.AllowedFor(Broadcast), got.AllowedFor(Direct); b != tc.broadcast || d != tc.direct {
				t.Fatalf("allowed broadcast %v direct %v, want %v %v", b, d, tc.broadcast, tc.direct)
			}
		})
	}
}
