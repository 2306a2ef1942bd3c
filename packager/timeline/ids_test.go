package timeline

import "testing"

func TestValidRoomUUID(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"0663ff8f-b0a8-4d02-b13c-fcf2aa99562c", true},
		{"0663FF8F-b0a8-4d02-b13c-fcf2aa99562c", false},
		{"0663ff8f-b0a8-4d02-b13c-fcf2aa99562", false},
		{"0663ff8f-b0a8-4d02-b13c-fcf2aa99562cc", false},
		{"0663ff8fxb0a8-4d02-b13c-fcf2aa99562c", false},
		{"../../../../../../../../../etc/passwd", false},
		{"0663ff8f-b0a8-4d02-b13c-fcf2aa9956/.", false},
		{"", false},
	}
	for _, c := range cases {
		if got := ValidRoomUUID(c.in); got != c.want {
			t.Errorf("ValidRoomUUID(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestValidFileName(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"video1_12.m4s", true},
		{"audio2_init0.mp4", true},
		{"video1_p123.m4s", true},
		{"index.m3u8", true},
		{"", false},
		{".hidden", false},
		{"a..b", false},
		{"../x", false},
		{"a/b", false},
		{"Video1.m4s", false},
		{"video1 .m4s", false},
		{"x%2f..%2fy", false},
		{string(make([]byte, 65)), false},
	}
	for _, c := range cases {
		if got := ValidFileName(c.in); got != c.want {
			t.Errorf("ValidFileName(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
