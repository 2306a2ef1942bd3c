package control

import "testing"

func TestParseChatMessageType(t *testing.T) {
	cases := []struct {
		in                string
		want              ChatMessageType
		wantErr           bool
		broadcast, direct bool
	}{
		{"MESSAGE", ChatMessageTypeMessage, false, true, false},
		{"DM", ChatMessageTypeDM, false, false, true},
		{"COMMAND", ChatMessageTypeCommand, false, true, true},
		{"", ChatMessageTypeUnknown, true, false, false},
		{"message", ChatMessageTypeUnknown, true, false, false},
		{"NOTICE", ChatMessageTypeUnknown, true, false, false},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseChatMessageType(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParseChatMessageType(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
			if got.String() != string(got) {
				t.Fatalf("String() = %q", got.String())
			}
			if b, d := got.AllowedFor(ChatBroadcast), got.AllowedFor(ChatDirect); b != tc.broadcast || d != tc.direct {
				t.Fatalf("allowed broadcast %v direct %v, want %v %v", b, d, tc.broadcast, tc.direct)
			}
		})
	}
}
