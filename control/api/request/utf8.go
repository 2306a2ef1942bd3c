package request

import (
	"net/url"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/roomcast/roomcast/control"
)

// Identifiers and strings are stored as sent: bytes that are not UTF-8 are refused
// (400 INVALID_REQUEST) rather than replaced by U+FFFD, which would make two
// different identifiers the same one.

// ValidUTF8 refuses a request body that is not UTF-8, or whose JSON strings
// escape half of a UTF-16 surrogate pair ("\udc00": encoding/json would decode it
// as U+FFFD too).
func ValidUTF8(body []byte) error {
	if !utf8.Valid(body) {
		return control.ErrInvalidRequest.WithMessage("the request body is not valid UTF-8")
	}
	if !validSurrogates(body) {
		return control.ErrInvalidRequest.WithMessage("the request body escapes an unpaired UTF-16 surrogate")
	}
	return nil
}

// validSurrogates reports whether every \uD800–\uDFFF escape of data is half of a
// high-low pair. A backslash outside a string is a JSON syntax error, refused by
// the decoder anyway.
func validSurrogates(data []byte) bool {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		r, ok := escapedRune(data[i:])
		if !ok {
			i++ // \" \\ \n …: skip the escaped byte
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return false
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := escapedRune(data[i+6:])
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return false
			}
			i += 11
		default:
			i += 5
		}
	}
	return true
}

// escapedRune decodes a \uXXXX escape at the start of b.
func escapedRune(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// ValidUTF8String refuses a request value that is not UTF-8.
func ValidUTF8String(what, v string) error {
	if !utf8.ValidString(v) {
		return control.ErrInvalidRequest.WithMessage("%s is not valid UTF-8", what)
	}
	return nil
}

// PathAppUserID reads the :appUserId path parameter (percent-decoded, UTF-8).
func PathAppUserID(ec echo.Context) (string, error) {
	id, err := url.PathUnescape(ec.Param("appUserId"))
	if err != nil {
		return "", control.ErrMemberNotFound
	}
	if err := ValidUTF8String("path appUserId", id); err != nil {
		return "", err
	}
	return id, nil
}
