package chatsocket

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/roomcast/roomcast/control"
)

// decodeCases are the frame parser's table: the unit test, the fuzz seeds.
var decodeCases = []struct {
	name string
	in   string
	cmds []string // commands decoded
	err  control.APIError
}{
	{"heart-beats only", "\n\r\n\n", nil, control.APIError{}},
	{"connect", "CONNECT\naccept-version:1.2\nhost:h\n\n\x00", []string{"CONNECT"}, control.APIError{}},
	{"crlf and trailing EOLs", "SEND\r\ndestination:/a\r\n\r\nhi\x00\r\n\n", []string{"SEND"}, control.APIError{}},
	{"two frames", "ACK\nid:1\n\n\x00\nNACK\nid:2\n\n\x00", []string{"ACK", "NACK"}, control.APIError{}},
	{"content-length with NUL in body", "SEND\ncontent-length:3\n\na\x00b\x00", []string{"SEND"}, control.APIError{}},
	{"escapes", "SUBSCRIBE\nid:a\\cb\\\\c\\nd\\r\n\n\x00", []string{"SUBSCRIBE"}, control.APIError{}},
	{"connect keeps backslashes", "CONNECT\npasscode:a\\tb\n\n\x00", []string{"CONNECT"}, control.APIError{}},
	{"unknown command", "HELLO\n\n\x00", nil, ErrInvalidFrame},
	{"lower-case command", "send\n\n\x00", nil, ErrInvalidFrame},
	{"no NUL", "SEND\ndestination:/a\n\nhi", nil, ErrFrameNotTerminated},
	{"no blank line", "SEND\ndestination:/a", nil, ErrFrameNotTerminated},
	{"command only", "SEND", nil, ErrFrameNotTerminated},
	{"header without colon", "SEND\ndestination\n\n\x00", nil, ErrInvalidFrame},
	{"empty header name", "SEND\n:x\n\n\x00", nil, ErrInvalidFrame},
	{"undefined escape", "SEND\nid:\\t\n\n\x00", nil, ErrInvalidFrame},
	{"trailing backslash", "SEND\nid:\\\n\n\x00", nil, ErrInvalidFrame},
	{"content-length not a number", "SEND\ncontent-length:x\n\n\x00", nil, ErrInvalidFrame},
	{"content-length 4 GB", "SEND\ncontent-length:4294967295\n\n\x00", nil, ErrInvalidFrame},
	{"content-length past the end", "SEND\ncontent-length:9\n\nab\x00", nil, ErrFrameNotTerminated},
	{"no NUL after content-length", "SEND\ncontent-length:1\n\nab\x00", nil, ErrInvalidFrame},
	{"second frame cut", "ACK\nid:1\n\n\x00NACK\n", []string{"ACK"}, ErrFrameNotTerminated},
	{"too many headers", "SEND\n" + string(bytes.Repeat([]byte("a:b\n"), maxHeaders+1)) + "\n\x00", nil, ErrInvalidFrame},
}

func TestDecodeFrames(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := decodeFrames([]byte(tc.in))
			var cmds []string
			for _, f := range fs {
				cmds = append(cmds, f.Command)
			}
			if !slices.Equal(cmds, tc.cmds) {
				t.Fatalf("commands %q, want %q", cmds, tc.cmds)
			}
			if (tc.err == control.APIError{}) != (err == nil) || (err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
		})
	}
	fs, _ := decodeFrames([]byte("SUBSCRIBE\nid:a\\cb\\\\c\\nd\\r\nid:second\n\n\x00"))
	if got := fs[0].Header.Get("id"); got != "a:b\\c\nd\r" {
		t.Fatalf("unescaped id %q", got)
	}
	fs, _ = decodeFrames([]byte("SEND\ncontent-length:3\n\na\x00b\x00"))
	if string(fs[0].Body) != "a\x00b" {
		t.Fatalf("body %q", fs[0].Body)
	}
}

// FuzzDecodeFrames feeds arbitrary WebSocket messages to the frame parser: no
// panic, every error is one of the parser's codes, and every frame it accepts
// (other than CONNECT, whose headers are not escaped) encodes with go-stomp's
// frame.Writer and decodes again to the same frame, with go-stomp's
// frame.Reader too.
func FuzzDecodeFrames(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fs, err := decodeFrames(msg)
		if err != nil && !errors.Is(err, ErrInvalidFrame) && !errors.Is(err, ErrFrameNotTerminated) {
			t.Fatalf("error %v is not a parser code", err)
		}
		for _, fr := range fs {
			if fr.Command == frame.CONNECT || fr.Command == frame.STOMP || fr.Command == frame.CONNECTED {
				continue
			}
			var buf bytes.Buffer
			if err := frame.NewWriter(&buf).Write(fr); err != nil {
				t.Fatal(err)
			}
			again, err := decodeFrames(buf.Bytes())
			if err != nil || len(again) != 1 || !sameFrame(again[0], fr) {
				t.Fatalf("round trip of %q: %v %v", buf.Bytes(), again, err)
			}
			theirs, err := frame.NewReader(bytes.NewReader(buf.Bytes())).Read()
			if err != nil || !sameFrame(theirs, fr) {
				t.Fatalf("go-stomp reads %q as %v (%v)", buf.Bytes(), theirs, err)
			}
		}
	})
}

// sameFrame compares command, headers in order, and body.
func sameFrame(a, b *frame.Frame) bool {
	if a.Command != b.Command || a.Header.Len() != b.Header.Len() || !bytes.Equal(a.Body, b.Body) {
		return false
	}
	for i := range a.Header.Len() {
		ak, av := a.Header.GetAt(i)
		bk, bv := b.Header.GetAt(i)
		if ak != bk || av != bv {
			return false
		}
	}
	return true
}

// TestParseDestination covers the destinations and what is refused.
func TestParseDestination(t *testing.T) {
	cases := []struct {
		in   string
		ok   bool
		want destination
	}{
		{"/chat-rooms/k1", true, destination{channelKey: "k1"}},
		{"/chat-rooms/k1/messages", true, destination{channelKey: "k1", messages: true}},
		{"/user/queue/errors", true, destination{errors: true}},
		{"/chat-rooms/", false, destination{}},
		{"/chat-rooms//messages", false, destination{}},
		{"/chat-rooms/a/b", false, destination{}},
		{"/chat-rooms/a?x", false, destination{}},
		{"/topic/x", false, destination{}},
		{"", false, destination{}},
	}
	for _, tc := range cases {
		got, ok := parseDestination(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
