package api

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestParseBasic covers the Basic header parser, including credentials longer
// than its stack buffers.
func TestParseBasic(t *testing.T) {
	t.Parallel()
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	long := strings.Repeat("k", 3*basicMax)
	for _, tc := range []struct {
		name, header, user, pass string
		ok                       bool
	}{
		{"valid", "Basic " + enc("key:secret"), "key", "secret", true},
		{"lower-case scheme", "basic " + enc("key:se:cret"), "key", "se:cret", true},
		{"empty secret", "Basic " + enc("key:"), "key", "", true},
		{"long", "Basic " + enc(long+":"+long), long, long, true},
		{"empty user", "Basic " + enc(":secret"), "", "", false},
		{"no colon", "Basic " + enc("keysecret"), "", "", false},
		{"bad base64", "Basic !!!", "", "", false},
		{"bearer", "Bearer " + enc("key:secret"), "", "", false},
		{"short", "Basic", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf [basicMax]byte
			user, pass, ok := parseBasic(buf[:0], tc.header)
			if ok != tc.ok || (ok && (string(user) != tc.user || string(pass) != tc.pass)) {
				t.Fatalf("got %q %q %v, want %q %q %v", user, pass, ok, tc.user, tc.pass, tc.ok)
			}
		})
	}
}
