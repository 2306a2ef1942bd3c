package storage

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// StreamKey returns the stream key with the given ID, or ErrNotFound.
func (t *Tx) StreamKey(id uint64) (StreamKey, error) {
	return getCached(t, keyKind, id)
}

// StreamKeyBySecret returns the stream key whose Secret is secret, or
// ErrNotFound. The lookup goes through the SHA-256 index (no scan) and the stored
// secret is then compared in constant time.
func (t *Tx) StreamKeyBySecret(secret string) (StreamKey, error) {
	notFound := fmt.Errorf("stream key by secret: %w", ErrNotFound)
	if secret == "" {
		return StreamKey{}, notFound
	}
	id, err := lookupIndex(t.bucket(bucketKeysBySecret), secretKey(secret), "stream key by secret")
	if err != nil {
		return StreamKey{}, err
	}
	k, err := t.StreamKey(id)
	if err != nil {
		return StreamKey{}, err
	}
	if subtle.ConstantTimeCompare([]byte(k.Secret), []byte(secret)) != 1 {
		return StreamKey{}, notFound
	}
	return k, nil
}

// PutStreamKey inserts (k.ID == 0: ID from the bucket sequence) or replaces a
// stream key. It maintains the secret index (a rotated secret's old entry is
// removed; a secret held by another key yields ErrConflict) and the publishing
// index used by ForEachPublishingKey.
func (t *Tx) PutStreamKey(k *StreamKey) error {
	b := t.appendBucket(bucketKeys)
	defer func() { invalidateCached(t, keyKind, k.ID) }() // after the ID is assigned
	return t.putRecord("stream key", b, &k.ID, k, func() error {
		old, _, err := previous[StreamKey](b, k.ID, "stream key")
		if err != nil {
			return err
		}
		if err := t.indexSecret(old.Secret, k.Secret, k.ID); err != nil {
			return err
		}
		pub := t.bucket(bucketKeysPublishing)
		if k.Publishing {
			return pub.Put(u64(k.ID), []byte{})
		}
		return pub.Delete(u64(k.ID))
	})
}

// indexSecret moves the secret index entry of key id from oldSecret to newSecret.
func (t *Tx) indexSecret(oldSecret, newSecret string, id uint64) error {
	idx := t.bucket(bucketKeysBySecret)
	var oldKey, newKey []byte
	if oldSecret != "" {
		oldKey = secretKey(oldSecret)
	}
	if newSecret != "" {
		newKey = secretKey(newSecret)
		if err := claim(idx, newKey, id, "stream key secret"); err != nil {
			return err
		}
	}
	return release(idx, oldKey, newKey)
}

// ForEachPublishingKey calls fn for every key with Publishing set, in ID order,
// until fn returns an error. It reads the small publishing index, not all keys
// (boot recovery). fn may put the key it receives: the IDs are collected first.
func (t *Tx) ForEachPublishingKey(fn func(StreamKey) error) error {
	var ids []uint64
	_ = t.bucket(bucketKeysPublishing).ForEach(func(k, _ []byte) error {
		ids = append(ids, btoi(k))
		return nil
	})
	for _, id := range ids {
		k, err := t.StreamKey(id)
		if err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// secretKey is the index key of a stream-key secret: its SHA-256.
func secretKey(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
