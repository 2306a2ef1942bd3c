package storage_test

import (
	"context"
	"testing"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

func TestStreamKeyIndex(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	k1 := storage.StreamKey{AppID: 1, MemberID: 1, Secret: "secret-one"}
	k2 := storage.StreamKey{AppID: 1, MemberID: 2, Secret: "secret-two"}
	update(t, s, func(tx *storage.Tx) error {
		if err := tx.PutStreamKey(&k1); err != nil {
			return err
		}
		return tx.PutStreamKey(&k2)
	})
	ctx := context.Background()
	got, err := s.StreamKeyBySecret(ctx, "secret-one")
	if err != nil || got.ID != k1.ID || got.MemberID != 1 {
		t.Fatalf("StreamKeyBySecret = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "secret-on", "secret-one2", "SECRET-ONE"} {
		_, err := s.StreamKeyBySecret(ctx, bad)
		wantErr(t, err, storage.ErrNotFound)
	}
	t.Run("rotate removes old secret", func(t *testing.T) {
		k1.Secret = "secret-one-rotated"
		update(t, s, func(tx *storage.Tx) error { return tx.PutStreamKey(&k1) })
		_, err := s.StreamKeyBySecret(ctx, "secret-one")
		wantErr(t, err, storage.ErrNotFound)
		got, err := s.StreamKeyBySecret(ctx, "secret-one-rotated")
		if err != nil || got.ID != k1.ID {
			t.Errorf("rotated lookup = %+v, %v", got, err)
		}
	})
	t.Run("secret conflict", func(t *testing.T) {
		k2.Secret = "secret-one-rotated"
		wantErr(t, s.Update(func(tx *storage.Tx) error { return tx.PutStreamKey(&k2) }), storage.ErrConflict)
		k2.Secret = "secret-two"
		got, err := s.StreamKeyBySecret(ctx, "secret-two") // rollback kept the old entry
		if err != nil || got.ID != k2.ID {
			t.Errorf("after failed rotation = %+v, %v", got, err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.StreamKeyBySecret(cctx, "secret-two"); err == nil {
			t.Error("cancelled context ignored")
		}
	})
}

func TestPublishingIndex(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	keys := make([]storage.StreamKey, 5)
	update(t, s, func(tx *storage.Tx) error {
		for i := range keys {
			keys[i] = storage.StreamKey{Secret: string(rune('a' + i)), Publishing: i%2 == 0}
			if err := tx.PutStreamKey(&keys[i]); err != nil {
				return err
			}
		}
		return nil
	})
	publishing := func() (ids []uint64) {
		view(t, s, func(tx *storage.Tx) error {
			return tx.ForEachPublishingKey(func(k storage.StreamKey) error {
				if !k.Publishing {
					t.Errorf("key %d listed but not publishing", k.ID)
				}
				ids = append(ids, k.ID)
				return nil
			})
		})
		return ids
	}
	if got := publishing(); len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 5 {
		t.Fatalf("publishing keys %v, want [1 3 5]", got)
	}
	// Boot recovery: stop every publishing key inside the walk.
	update(t, s, func(tx *storage.Tx) error {
		return tx.ForEachPublishingKey(func(k storage.StreamKey) error {
			k.Publishing = false
			return tx.PutStreamKey(&k)
		})
	})
	if got := publishing(); len(got) != 0 {
		t.Errorf("publishing keys after recovery %v, want none", got)
	}
}
