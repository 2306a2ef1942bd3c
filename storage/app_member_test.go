package storage_test

import (
	"testing"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

func TestAppIndex(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	a := storage.App{Name: "one", APIKey: "k1"}
	b := storage.App{Name: "two", APIKey: "k2"}
	update(t, s, func(tx *storage.Tx) error {
		if err := tx.PutApp(&a); err != nil {
			return err
		}
		return tx.PutApp(&b)
	})
	if a.ID != 1 || b.ID != 2 {
		t.Fatalf("app IDs %d %d, want 1 2", a.ID, b.ID)
	}
	t.Run("rotate api key", func(t *testing.T) {
		a.APIKey = "k1b"
		update(t, s, func(tx *storage.Tx) error { return tx.PutApp(&a) })
		view(t, s, func(tx *storage.Tx) error {
			_, err := tx.AppByAPIKey("k1")
			wantErr(t, err, storage.ErrNotFound)
			got, err := tx.AppByAPIKey("k1b")
			if err != nil || got.ID != a.ID {
				t.Errorf("AppByAPIKey(k1b) = %+v, %v", got, err)
			}
			return nil
		})
	})
	t.Run("conflict", func(t *testing.T) {
		c := storage.App{APIKey: "k2"}
		wantErr(t, s.Update(func(tx *storage.Tx) error { return tx.PutApp(&c) }), storage.ErrConflict)
		if c.ID != 0 {
			t.Errorf("failed insert left ID %d", c.ID)
		}
	})
	t.Run("count and iterate", func(t *testing.T) {
		view(t, s, func(tx *storage.Tx) error {
			var names []string
			err := tx.ForEachApp(func(a storage.App) error { names = append(names, a.Name); return nil })
			if tx.AppCount() != 2 || len(names) != 2 || names[0] != "one" {
				t.Errorf("AppCount %d, names %v", tx.AppCount(), names)
			}
			_, err2 := tx.App(99)
			wantErr(t, err2, storage.ErrNotFound)
			return err
		})
	})
	t.Run("explicit ID raises sequence", func(t *testing.T) {
		x := storage.App{ID: 10, APIKey: "k10"}
		y := storage.App{APIKey: "k11"}
		update(t, s, func(tx *storage.Tx) error {
			if err := tx.PutApp(&x); err != nil {
				return err
			}
			return tx.PutApp(&y)
		})
		if y.ID != 11 {
			t.Errorf("ID after explicit 10 is %d, want 11", y.ID)
		}
	})
}

func TestMemberIndex(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	m1 := storage.Member{AppID: 1, AppUserID: "alice"}
	m2 := storage.Member{AppID: 2, AppUserID: "alice"} // same user id, other app: fine
	update(t, s, func(tx *storage.Tx) error {
		if err := tx.PutMember(&m1); err != nil {
			return err
		}
		return tx.PutMember(&m2)
	})
	if m1.ID != 1 || m2.ID != 2 {
		t.Fatalf("member IDs %d %d", m1.ID, m2.ID)
	}
	view(t, s, func(tx *storage.Tx) error {
		for _, want := range []storage.Member{m1, m2} {
			got, err := tx.MemberByAppUserID(want.AppID, "alice")
			if err != nil || got.ID != want.ID {
				t.Errorf("MemberByAppUserID(%d) = %+v, %v", want.AppID, got, err)
			}
		}
		_, err := tx.Member(2, m1.ID) // belongs to app 1
		wantErr(t, err, storage.ErrNotFound)
		_, err = tx.MemberByAppUserID(1, "bob")
		wantErr(t, err, storage.ErrNotFound)
		return nil
	})
	t.Run("unique per app", func(t *testing.T) {
		dup := storage.Member{AppID: 1, AppUserID: "alice"}
		wantErr(t, s.Update(func(tx *storage.Tx) error { return tx.PutMember(&dup) }), storage.ErrConflict)
	})
	t.Run("update same member", func(t *testing.T) {
		m1.AppUserName = "Alice"
		update(t, s, func(tx *storage.Tx) error { return tx.PutMember(&m1) })
		view(t, s, func(tx *storage.Tx) error {
			got, err := tx.MemberByAppUserID(1, "alice")
			if err != nil || got.AppUserName != "Alice" {
				t.Errorf("after update: %+v %v", got, err)
			}
			return nil
		})
	})
	t.Run("rename removes old entry", func(t *testing.T) {
		m1.AppUserID = "alice2"
		update(t, s, func(tx *storage.Tx) error { return tx.PutMember(&m1) })
		view(t, s, func(tx *storage.Tx) error {
			_, err := tx.MemberByAppUserID(1, "alice")
			wantErr(t, err, storage.ErrNotFound)
			got, err := tx.MemberByAppUserID(1, "alice2")
			if err != nil || got.ID != m1.ID {
				t.Errorf("after rename: %+v %v", got, err)
			}
			return nil
		})
	})
	t.Run("empty app user id", func(t *testing.T) {
		if err := s.Update(func(tx *storage.Tx) error { return tx.PutMember(&storage.Member{AppID: 1}) }); err == nil {
			t.Error("empty appUserId accepted")
		}
	})
}
