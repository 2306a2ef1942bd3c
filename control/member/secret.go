package member

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// StreamKeyBytes is the entropy of a stream key secret (192 bits; at least 128
// are required).
const StreamKeyBytes = 24

// NewSecret returns n random bytes, base64url without padding.
func NewSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
