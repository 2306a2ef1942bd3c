package storage_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

func TestOpenCreatesDirAndFileMode(t *testing.T) {
	storagetest.BboltOnly(t)
	t.Parallel()
	path := dbPath(t)
	s := openAt(t, path)
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode %o, want 600", mode)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
}

func TestOpenLockedByAnother(t *testing.T) {
	storagetest.BboltOnly(t)
	t.Parallel()
	path := dbPath(t)
	s := openAt(t, path)
	defer s.Close()
	_, err := storage.Open(path, storage.Options{LockTimeout: 50 * time.Millisecond})
	wantErr(t, err, storage.ErrLocked)
}

func TestOpenRefusesGarbage(t *testing.T) {
	storagetest.BboltOnly(t)
	t.Parallel()
	path := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Open(path, storage.Options{}); err == nil {
		t.Fatal("opened a file that is not a bbolt database")
	}
}

func TestInstallSecretStable(t *testing.T) {
	t.Parallel()
	path := dbPath(t)
	s := openAt(t, path)
	first := s.InstallSecret()
	if len(first) != 32 || bytes.Equal(first, make([]byte, 32)) {
		t.Fatalf("install secret %x: want 32 random bytes", first)
	}
	first[0] ^= 0xff // a copy: mutating it changes nothing
	first[0] ^= 0xff
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	defer s.Close()
	if !bytes.Equal(first, s.InstallSecret()) {
		t.Error("install secret changed across reopen")
	}
	other := storagetest.Open(t)
	if bytes.Equal(first, other.InstallSecret()) {
		t.Error("two installs share a secret")
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	path := dbPath(t)
	s := openAt(t, path)
	app := storage.App{Name: "a", APIKey: "key-1"}
	m := storage.Member{AppUserID: "u1"}
	k := storage.StreamKey{Secret: "s1", Publishing: true}
	r := newRoom(1, 1, 1)
	ev := storage.Event{AppID: 1, Name: "video_room.live", Payload: json.RawMessage(`{"x":1}`)}
	update(t, s, func(tx *storage.Tx) error {
		return errors.Join(tx.PutApp(&app), tx.PutMember(&m), tx.PutStreamKey(&k),
			tx.PutRoom(&r), tx.AppendEvent(&ev), tx.PutMeta("x.y", []byte("z")))
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	defer s.Close()
	view(t, s, func(tx *storage.Tx) error {
		if a, err := tx.AppByAPIKey("key-1"); err != nil || a.Name != "a" {
			t.Errorf("app after reopen: %+v %v", a, err)
		}
		if got, err := tx.MemberByAppUserID(0, "u1"); err != nil || got.ID != m.ID {
			t.Errorf("member after reopen: %+v %v", got, err)
		}
		if got, err := tx.StreamKeyBySecret("s1"); err != nil || !got.Publishing {
			t.Errorf("stream key after reopen: %+v %v", got, err)
		}
		if got, err := tx.RoomByUUID(r.UUID); err != nil || got.Title != r.Title ||
			!got.CreatedAt.Equal(r.CreatedAt) {
			t.Errorf("room after reopen: %+v %v", got, err)
		}
		if tx.LastEventSeq() != ev.Seq || string(tx.GetMeta("x.y")) != "z" {
			t.Errorf("events/meta after reopen: seq %d meta %q", tx.LastEventSeq(), tx.GetMeta("x.y"))
		}
		return nil
	})
	// Sequences continue after reopen.
	app2 := storage.App{APIKey: "key-2"}
	update(t, s, func(tx *storage.Tx) error { return tx.PutApp(&app2) })
	if app2.ID != app.ID+1 {
		t.Errorf("app ID after reopen %d, want %d", app2.ID, app.ID+1)
	}
}

func TestViewRefusesWrites(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	view(t, s, func(tx *storage.Tx) error {
		if tx.Writable() {
			t.Error("View tx is writable")
		}
		r := newRoom(1, 1, 1)
		_, delErr := tx.DeleteEventsBefore(10)
		writes := map[string]error{
			"PutApp":             tx.PutApp(&storage.App{APIKey: "k"}),
			"PutMember":          tx.PutMember(&storage.Member{AppUserID: "u"}),
			"PutStreamKey":       tx.PutStreamKey(&storage.StreamKey{Secret: "s"}),
			"PutRoom":            tx.PutRoom(&r),
			"AppendEvent":        tx.AppendEvent(&storage.Event{}),
			"DeleteEventsBefore": delErr,
			"PutMeta":            tx.PutMeta("a", nil),
			"DeleteMeta":         tx.DeleteMeta("a"),
		}
		for name, err := range writes {
			if !errors.Is(err, storage.ErrReadOnly) {
				t.Errorf("%s in View: %v, want ErrReadOnly", name, err)
			}
		}
		if r.ID != 0 {
			t.Errorf("failed PutRoom left ID %d", r.ID)
		}
		return nil
	})
}

func TestUpdateErrorRollsBack(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	boom := errors.New("boom")
	err := s.Update(func(tx *storage.Tx) error {
		if err := tx.PutApp(&storage.App{APIKey: "k"}); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, err, boom)
	view(t, s, func(tx *storage.Tx) error {
		_, err := tx.AppByAPIKey("k")
		wantErr(t, err, storage.ErrNotFound)
		if n := tx.AppCount(); n != 0 {
			t.Errorf("AppCount %d after rollback", n)
		}
		return nil
	})
}

func TestOnCommit(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	var committed, rolledBack bool
	update(t, s, func(tx *storage.Tx) error {
		tx.OnCommit(func() { committed = true })
		return nil
	})
	_ = s.Update(func(tx *storage.Tx) error {
		tx.OnCommit(func() { rolledBack = true })
		return errors.New("abort")
	})
	if !committed || rolledBack {
		t.Errorf("OnCommit: committed %v, rolled back %v", committed, rolledBack)
	}
}

func TestMeta(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	update(t, s, func(tx *storage.Tx) error {
		if tx.GetMeta("a") != nil {
			t.Error("absent meta key is not nil")
		}
		for _, k := range []string{"", "schemaVersion", "installSecret"} {
			if err := tx.PutMeta(k, []byte("x")); err == nil {
				t.Errorf("PutMeta(%q) accepted a reserved key", k)
			}
		}
		if len(tx.GetMeta("schemaVersion")) != 8 {
			t.Error("schemaVersion not readable")
		}
		if err := tx.PutMeta("a", []byte("1")); err != nil {
			return err
		}
		if string(tx.GetMeta("a")) != "1" {
			t.Errorf("GetMeta = %q", tx.GetMeta("a"))
		}
		return tx.DeleteMeta("a")
	})
	view(t, s, func(tx *storage.Tx) error {
		if tx.GetMeta("a") != nil {
			t.Error("deleted meta key still present")
		}
		return nil
	})
}
