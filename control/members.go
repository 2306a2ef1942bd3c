package control

import (
	"errors"
	"fmt"
	"time"

	"github.com/roomcast/roomcast/control/member"
	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// CreateStreamKey gives member m its stream key.
func CreateStreamKey(tx *storage.Tx, m *storage.Member, now time.Time) error {
	secret, err := member.NewSecret(member.StreamKeyBytes)
	if err != nil {
		return err
	}
	k := storage.StreamKey{AppID: m.AppID, MemberID: m.ID, Secret: secret, Mode: string(publish.ModeCMAF),
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
