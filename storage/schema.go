package storage

import (
	"crypto/rand"
	"fmt"
	"slices"
)

// Bucket names. The layout is documented in doc.go.
var (
	bucketMeta           = []byte("meta")
	bucketApps           = []byte("apps")
	bucketAppsByKey      = []byte("apps_by_key")
	bucketMembers        = []byte("members")
	bucketMembersByUser  = []byte("members_by_user")
	bucketKeys           = []byte("stream_keys")
	bucketKeysBySecret   = []byte("stream_keys_by_secret")
	bucketKeysPublishing = []byte("stream_keys_publishing")
	bucketRooms          = []byte("rooms")
	bucketRoomsByUUID    = []byte("rooms_by_uuid")
	bucketRoomsByApp     = []byte("rooms_by_app")
	bucketRoomsByMember  = []byte("rooms_by_member")
	bucketEvents         = []byte("events")
)

// allBuckets lists every top-level bucket of the current schema.
var allBuckets = [][]byte{
	bucketMeta, bucketApps, bucketAppsByKey, bucketMembers, bucketMembersByUser,
	bucketKeys, bucketKeysBySecret, bucketKeysPublishing, bucketRooms,
	bucketRoomsByUUID, bucketRoomsByApp, bucketRoomsByMember, bucketEvents,
}

// Reserved keys of the meta bucket; PutMeta refuses them.
const (
	metaSchemaVersion = "schemaVersion"
	metaInstallSecret = "installSecret"
)

// installSecretLen is the size of the per-install secret in bytes.
const installSecretLen = 32

// migration moves the schema to version by changing the raw bbolt transaction.
type migration struct {
	version uint64
	up      func(kvTx) error
}

// migrations is applied in order by Open; append new versions, never edit old ones.
var migrations = []migration{
	{version: 1, up: createBuckets},
	{version: 2, up: createChatBuckets},           // tx_chat.go
	{version: 3, up: createDeliveryBuckets},       // tx_delivery.go
	{version: 4, up: createRoomListIndexes},       // tx_room_list.go
	{version: 5, up: createChatModerationBuckets}, // tx_chat_moderation.go
	{version: 6, up: createChatChannelIndex},      // tx_chat_channel.go
}

// createBuckets is migration 1: every bucket of allBuckets.
func createBuckets(tx kvTx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// schemaVersion reads the stored version; 0 for a new file.
func schemaVersion(tx kvTx) uint64 {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0
	}
	return btoi(b.Get([]byte(metaSchemaVersion)))
}

// migrate applies every migration newer than the stored version, in order, and
// records each version as it goes. A file newer than the table is refused.
func migrate(tx kvTx, table []migration) error {
	current := schemaVersion(tx)
	if n := len(table); n > 0 && current > table[n-1].version {
		return fmt.Errorf("schema version %d is newer than this binary supports (%d)",
			current, table[n-1].version)
	}
	for _, m := range table {
		if m.version <= current {
			continue
		}
		if err := m.up(tx); err != nil {
			return fmt.Errorf("migration %d: %w", m.version, err)
		}
		if err := setSchemaVersion(tx, m.version); err != nil {
			return err
		}
	}
	return checkBuckets(tx)
}

// setSchemaVersion stores v in the meta bucket (created if a migration has not).
func setSchemaVersion(tx kvTx, v uint64) error {
	b, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return fmt.Errorf("create meta bucket: %w", err)
	}
	if err := b.Put([]byte(metaSchemaVersion), u64(v)); err != nil {
		return fmt.Errorf("set schema version %d: %w", v, err)
	}
	return nil
}

// checkBuckets verifies that the schema holds every bucket; Tx methods rely on it.
func checkBuckets(tx kvTx) error {
	for _, name := range slices.Concat(allBuckets, chatBuckets, deliveryBuckets, roomListBuckets, chatModerationBuckets, chatChannelBuckets) {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("bucket %s missing after migrations", name)
		}
	}
	return nil
}

// ensureInstallSecret returns the install secret, creating it on first open.
func ensureInstallSecret(tx kvTx) ([]byte, error) {
	b := tx.Bucket(bucketMeta)
	if v := b.Get([]byte(metaInstallSecret)); len(v) == installSecretLen {
		return append([]byte(nil), v...), nil
	}
	secret := make([]byte, installSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate install secret: %w", err)
	}
	if err := b.Put([]byte(metaInstallSecret), secret); err != nil {
		return nil, fmt.Errorf("store install secret: %w", err)
	}
	return secret, nil
}
