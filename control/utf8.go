package control

import (
	"net/url"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// Identifiers and strings are stored as sent: bytes that are not UTF-8 are refused
// (400 INVALID_REQUEST) rather than replaced by U+FFFD, which would make two
// different identifiers the same one.

// validUTF8 refuses a request body that is not UTF-8.
func validUTF8(body []byte) error {
	if !utf8.Valid(body) {
		return ErrInvalidRequest.withMessage("the request body is not valid UTF-8")
	}
	return nil
}

// validUTF8String refuses a request value that is not UTF-8.
func validUTF8String(what, v string) error {
	if !utf8.ValidString(v) {
		return ErrInvalidRequest.withMessage("%s is not valid UTF-8", what)
	}
	return nil
}

// pathAppUserID reads the :appUserId path parameter (percent-decoded, UTF-8).
func pathAppUserID(ec echo.Context) (string, error) {
	id, err := url.PathUnescape(ec.Param("appUserId"))
	if err != nil {
		return "", ErrMemberNotFound
	}
	if err := validUTF8String("path appUserId", id); err != nil {
		return "", err
	}
	return id, nil
}
