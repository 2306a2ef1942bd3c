// Package membertest helps tests of member tokens: other spellings of a token
// that a lenient base64 decoder would read as the same bytes.
package membertest

import "strings"

// alphabet is base64url (RFC 4648 §5), the alphabet of tokens.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// Respellings returns spellings of token (two base64url segments joined by a
// dot, without padding) that decode to the same bytes under a lenient decoder:
// unused trailing bits set in the last character of a segment (RFC 4648 §3.5),
// padding added, line breaks inserted (ignored by Go's decoder), the standard
// alphabet's '+' and '/' for '-' and '_'. A strict verifier refuses them all.
func Respellings(token string) []string {
	payload, mac, ok := strings.Cut(token, ".")
	if !ok {
		return nil
	}
	var out []string
	for _, p := range trailingBits(payload) {
		out = append(out, p+"."+mac)
	}
	for _, m := range trailingBits(mac) {
		out = append(out, payload+"."+m)
	}
	if pad := padding(payload); pad != "" {
		out = append(out, payload+pad+"."+mac)
	}
	if pad := padding(mac); pad != "" {
		out = append(out, token+pad)
	}
	out = append(out, token[:len(token)/2]+"\n"+token[len(token)/2:], token+"\r\n")
	if std := strings.NewReplacer("-", "+", "_", "/").Replace(token); std != token {
		out = append(out, std)
	}
	return out
}

// trailingBits returns seg with its last character changed in the bits that
// encode no data: 4 bits when len%4 == 2, 2 bits when len%4 == 3.
func trailingBits(seg string) []string {
	var unused int
	switch len(seg) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		return nil
	}
	v := strings.IndexByte(alphabet, seg[len(seg)-1])
	if v < 0 {
		return nil
	}
	var out []string
	for k := 1; k < 1<<unused; k++ {
		out = append(out, seg[:len(seg)-1]+string(alphabet[v^k]))
	}
	return out
}

// padding returns the '=' that would pad seg to a multiple of 4 characters.
func padding(seg string) string {
	return strings.Repeat("=", (4-len(seg)%4)%4)
}
