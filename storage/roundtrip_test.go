package storage_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// TestRecordsRoundTrip checks that the compact encoding (zero fields omitted)
// returns records exactly as they were put, for full and sparse records.
func TestRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	now := time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC)
	full := newRoom(3, 4, 1)
	full.PasswordHash = []byte{1, 2}
	full.WebhookEvents = []string{"video_room.live"}
	full.Sessions = []storage.Session{{No: 1, StartedAt: now, EndedAt: now.Add(time.Minute)}}
	full.LiveStartedAt, full.LastSessionNo, full.AutoEndSeconds = now, 1, 30
	sparse := storage.Room{UUID: "sparse", CustomData: []storage.KeyValue{}} // empty, not nil
	app := storage.App{Name: "a", APIKey: "k", APISecretHash: []byte{9}, CreatedAt: now,
		CallbackEvents: []string{}}
	member := storage.Member{AppID: 3, AppUserID: "u", TokenVersion: 2, CreatedAt: now}
	key := storage.StreamKey{Secret: "s", Publishing: true, Mode: "CMAF", PublishSeq: 5}
	ev := storage.Event{Name: "e", Payload: json.RawMessage(`{"a":[1,2]}`), CreatedAt: now}
	update(t, s, func(tx *storage.Tx) error {
		for _, err := range []error{tx.PutRoom(&full), tx.PutRoom(&sparse), tx.PutApp(&app),
			tx.PutMember(&member), tx.PutStreamKey(&key), tx.AppendEvent(&ev)} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx *storage.Tx) error {
		gotFull, _ := tx.Room(full.ID)
		gotSparse, _ := tx.Room(sparse.ID)
		gotApp, _ := tx.App(app.ID)
		gotMember, _ := tx.Member(3, member.ID)
		gotKey, _ := tx.StreamKey(key.ID)
		var gotEv storage.Event
		_ = tx.ForEachEventAfter(0, func(e storage.Event) (bool, error) { gotEv = e; return false, nil })
		pairs := []struct {
			name      string
			got, want any
		}{
			{"full room", gotFull, full}, {"sparse room", gotSparse, sparse}, {"app", gotApp, app},
			{"member", gotMember, member}, {"stream key", gotKey, key}, {"event", gotEv, ev},
		}
		for _, p := range pairs {
			if !reflect.DeepEqual(p.got, p.want) {
				t.Errorf("%s:\n got %+v\nwant %+v", p.name, p.got, p.want)
			}
		}
		return nil
	})
}
