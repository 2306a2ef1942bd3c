package control

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/roomcast/roomcast/storage"
)

// StreamKeyBytes is the entropy of a stream key secret (≥ 128 bits, SPEC §3).
const StreamKeyBytes = 24

// CreateStreamKey gives member m its stream key.
func (c *Control) CreateStreamKey(tx *storage.Tx, m *storage.Member, now time.Time) error {
	secret, err := NewSecret(StreamKeyBytes)
	if err != nil {
		return err
	}
	k := storage.StreamKey{AppID: m.AppID, MemberID: m.ID, Secret: secret, Mode: string(ModeCMAF),
		CreatedAt: now, UpdatedAt: now}
	if err := tx.PutStreamKey(&k); err != nil {
		return fmt.Errorf("put stream key: %w", err)
	}
	m.StreamKeyID = k.ID
	if err := tx.PutMember(m); err != nil {
		return fmt.Errorf("put member: %w", err)
	}
	return nil
}

// NewSecret returns n random bytes, base64url without padding.
func NewSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// MemberKey reads the stream key of m.
func MemberKey(tx *storage.Tx, m storage.Member) (storage.StreamKey, error) {
	k, err := tx.StreamKey(m.StreamKeyID)
	if errors.Is(err, storage.ErrNotFound) {
		return k, ErrStreamKeyNotFound
	}
	if err != nil {
		return k, fmt.Errorf("read stream key: %w", err)
	}
	return k, nil
}
