package storage_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

var chatNow = time.Date(2025, 3, 3, 8, 21, 42, 139000000, time.UTC)

// newChat creates the chat room of roomID.
func newChat(t testing.TB, s *storage.Store, roomID uint64) storage.ChatRoom {
	t.Helper()
	c := storage.ChatRoom{RoomID: roomID, AppID: 1, ChannelKey: fmt.Sprintf("ch-%d", roomID),
		CreatedAt: chatNow, MessageCount: 99}
	update(t, s, func(tx *storage.Tx) error { return tx.CreateChatRoom(&c) })
	return c
}

// appendMsgs appends n broadcast messages to roomID and returns their IDs.
func appendMsgs(t testing.TB, s *storage.Store, roomID uint64, n int) []uint64 {
	t.Helper()
	var ids []uint64
	update(t, s, func(tx *storage.Tx) error {
		for i := range n {
			m := storage.ChatMessage{Delivery: "BROADCAST", Type: "MESSAGE",
				Message: fmt.Sprintf("m%d", i), CreatedAt: chatNow}
			if err := tx.AppendChatMessage(roomID, &m); err != nil {
				return err
			}
			ids = append(ids, m.ID)
		}
		return nil
	})
	return ids
}

// chatRoom reads the chat room of roomID.
func chatRoom(t testing.TB, s *storage.Store, roomID uint64) storage.ChatRoom {
	t.Helper()
	var c storage.ChatRoom
	view(t, s, func(tx *storage.Tx) error {
		var err error
		c, err = tx.ChatRoom(roomID)
		return err
	})
	return c
}

func TestChatRoomCreateAndClose(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	view(t, s, func(tx *storage.Tx) error {
		_, err := tx.ChatRoom(7)
		wantErr(t, err, storage.ErrNotFound)
		_, err = tx.SetChatRoomClosed(7, chatNow)
		wantErr(t, err, storage.ErrReadOnly)
		return nil
	})
	c := newChat(t, s, 7)
	if c.MessageCount != 0 {
		t.Fatalf("counters not reset on create: %+v", c)
	}
	err := s.Update(func(tx *storage.Tx) error { return tx.CreateChatRoom(&storage.ChatRoom{RoomID: 7}) })
	wantErr(t, err, storage.ErrConflict)
	if err := s.Update(func(tx *storage.Tx) error { return tx.CreateChatRoom(&storage.ChatRoom{}) }); err == nil {
		t.Fatal("room id 0 accepted")
	}

	got := chatRoom(t, s, 7)
	if got.ChannelKey != "ch-7" || !got.CreatedAt.Equal(chatNow) || got.Closed {
		t.Fatalf("read back %+v", got)
	}
	update(t, s, func(tx *storage.Tx) error {
		for id := uint64(1); id <= 3; id++ {
			if _, err := tx.AddChatMember(7, &storage.ChatMember{MemberID: id, JoinedAt: chatNow}); err != nil {
				return err
			}
		}
		return nil
	})
	appendMsgs(t, s, 7, 2)
	var closed storage.ChatRoom
	update(t, s, func(tx *storage.Tx) error {
		var err error
		closed, err = tx.SetChatRoomClosed(7, chatNow.Add(time.Hour))
		return err
	})
	if !closed.Closed || !closed.ClosedAt.Equal(chatNow.Add(time.Hour)) || closed.MemberCount != 0 || closed.MessageCount != 2 {
		t.Fatalf("closed %+v", closed)
	}
	update(t, s, func(tx *storage.Tx) error { // closing again keeps the first time
		c, err := tx.SetChatRoomClosed(7, chatNow.Add(2*time.Hour))
		if err == nil && !c.ClosedAt.Equal(chatNow.Add(time.Hour)) {
			t.Errorf("second close moved ClosedAt to %v", c.ClosedAt)
		}
		return err
	})
	view(t, s, func(tx *storage.Tx) error {
		n := 0
		err := tx.ForEachChatMember(7, 0, func(storage.ChatMember) (bool, error) { n++; return true, nil })
		if n != 0 {
			t.Errorf("%d members left after close", n)
		}
		_, merr := tx.ChatMember(7, 1)
		wantErr(t, merr, storage.ErrNotFound)
		return err
	})
	// Members can join again after close (the caller refuses it; the store does not).
	update(t, s, func(tx *storage.Tx) error {
		cm := storage.ChatMember{MemberID: 1}
		added, err := tx.AddChatMember(7, &cm)
		if !added || cm.JoinSeq != 4 {
			t.Errorf("rejoin: added %v seq %d, want true 4", added, cm.JoinSeq)
		}
		return err
	})
}

func TestChatMessages(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	newChat(t, s, 1)
	newChat(t, s, 2)
	err := s.Update(func(tx *storage.Tx) error { return tx.AppendChatMessage(3, &storage.ChatMessage{}) })
	wantErr(t, err, storage.ErrNotFound)

	ids := appendMsgs(t, s, 1, 5)
	other := appendMsgs(t, s, 2, 3)
	if !slices.Equal(ids, []uint64{1, 2, 3, 4, 5}) || !slices.Equal(other, []uint64{1, 2, 3}) {
		t.Fatalf("ids %v %v, want per-room sequences from 1", ids, other)
	}
	data := json.RawMessage(`{"foo":"bar","n":[1,2]}`)
	update(t, s, func(tx *storage.Tx) error {
		m := storage.ChatMessage{Delivery: "DIRECT", Type: "DM", Data: data,
			Receivers: []string{"1", "2"}, CreatedAt: chatNow}
		if err := tx.AppendChatMessage(1, &m); err != nil {
			return err
		}
		got, err := tx.ChatMessage(1, m.ID)
		if err != nil {
			return err
		}
		if got.ID != 6 || got.RoomID != 1 || string(got.Data) != string(data) || !slices.Equal(got.Receivers, m.Receivers) {
			t.Errorf("read back %+v", got)
		}
		got.Hidden = true
		return tx.PutChatMessage(&got)
	})
	view(t, s, func(tx *storage.Tx) error {
		m, err := tx.ChatMessage(1, 6)
		if !m.Hidden {
			t.Error("hide not stored")
		}
		return err
	})
	err = s.Update(func(tx *storage.Tx) error {
		return tx.PutChatMessage(&storage.ChatMessage{RoomID: 1, ID: 99})
	})
	wantErr(t, err, storage.ErrNotFound)

	update(t, s, func(tx *storage.Tx) error { return tx.DeleteChatMessage(1, 3) })
	err = s.Update(func(tx *storage.Tx) error { return tx.DeleteChatMessage(1, 3) })
	wantErr(t, err, storage.ErrNotFound)
	if c := chatRoom(t, s, 1); c.MessageCount != 5 || c.LastMessageID != 6 {
		t.Fatalf("after delete: count %d last %d, want 5 6", c.MessageCount, c.LastMessageID)
	}
	if got := appendMsgs(t, s, 1, 1); got[0] != 7 {
		t.Fatalf("id after delete %d, want 7 (never reused)", got[0])
	}
	view(t, s, func(tx *storage.Tx) error {
		_, err := tx.ChatMessage(1, 3)
		wantErr(t, err, storage.ErrNotFound)
		_, err = tx.ChatMessage(2, 4)
		wantErr(t, err, storage.ErrNotFound)
		return nil
	})
}

// messageIDs pages the messages of roomID.
func messageIDs(t testing.TB, s *storage.Store, roomID uint64, skip, limit int, desc bool) []uint64 {
	t.Helper()
	var out []uint64
	view(t, s, func(tx *storage.Tx) error {
		return tx.ForEachChatMessage(roomID, skip, desc, func(m storage.ChatMessage) (bool, error) {
			out = append(out, m.ID)
			return len(out) < limit, nil
		})
	})
	return out
}

func TestChatMessagePagingStaysInRoom(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	for _, id := range []uint64{1, 2, 3, 255, 256} {
		newChat(t, s, id)
	}
	for _, id := range []uint64{1, 3, 255, 256} {
		appendMsgs(t, s, id, 4)
	}
	appendMsgs(t, s, 2, 1)
	for _, tc := range []struct {
		name        string
		room        uint64
		skip, limit int
		desc        bool
		want        []uint64
	}{
		{"asc first page", 2, 0, 10, false, []uint64{1}},
		{"asc skip", 1, 1, 2, false, []uint64{2, 3}},
		{"desc", 3, 0, 3, true, []uint64{4, 3, 2}},
		{"desc skip", 255, 2, 10, true, []uint64{2, 1}},
		{"desc last room", 256, 0, 10, true, []uint64{4, 3, 2, 1}},
		{"skip past end", 1, 4, 10, false, nil},
		{"empty room", 9, 0, 10, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := messageIDs(t, s, tc.room, tc.skip, tc.limit, tc.desc); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestChatMembers(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	newChat(t, s, 1)
	newChat(t, s, 2)
	_, err := func() (bool, error) {
		var added bool
		err := s.Update(func(tx *storage.Tx) error {
			var err error
			added, err = tx.AddChatMember(5, &storage.ChatMember{MemberID: 1})
			return err
		})
		return added, err
	}()
	wantErr(t, err, storage.ErrNotFound)

	update(t, s, func(tx *storage.Tx) error {
		for _, id := range []uint64{10, 20, 30} {
			cm := storage.ChatMember{MemberID: id, JoinedAt: chatNow.Add(time.Duration(id) * time.Second)}
			if added, err := tx.AddChatMember(1, &cm); err != nil || !added {
				return fmt.Errorf("add %d: %v %w", id, added, err)
			}
		}
		cm := storage.ChatMember{MemberID: 20, JoinedAt: chatNow.Add(time.Hour)}
		added, err := tx.AddChatMember(1, &cm)
		if added || cm.JoinSeq != 2 || !cm.JoinedAt.Equal(chatNow.Add(20*time.Second)) {
			t.Errorf("re-add: added %v %+v, want the stored record", added, cm)
		}
		_, err2 := tx.AddChatMember(2, &storage.ChatMember{MemberID: 20})
		if err != nil {
			return err
		}
		return err2
	})
	walk := func(room, after uint64) []uint64 {
		var out []uint64
		view(t, s, func(tx *storage.Tx) error {
			return tx.ForEachChatMember(room, after, func(cm storage.ChatMember) (bool, error) {
				out = append(out, cm.MemberID)
				return true, nil
			})
		})
		return out
	}
	if got := walk(1, 0); !slices.Equal(got, []uint64{10, 20, 30}) {
		t.Fatalf("members %v", got)
	}
	if got := walk(1, 1); !slices.Equal(got, []uint64{20, 30}) {
		t.Fatalf("members after 1: %v", got)
	}
	if got := walk(1, ^uint64(0)); got != nil {
		t.Fatalf("members after max: %v", got)
	}
	update(t, s, func(tx *storage.Tx) error { return tx.RemoveChatMember(1, 20) })
	err = s.Update(func(tx *storage.Tx) error { return tx.RemoveChatMember(1, 20) })
	wantErr(t, err, storage.ErrNotFound)
	if got := walk(1, 0); !slices.Equal(got, []uint64{10, 30}) {
		t.Fatalf("members after remove: %v", got)
	}
	if got := walk(2, 0); !slices.Equal(got, []uint64{20}) {
		t.Fatalf("room 2 members: %v", got)
	}
	if c := chatRoom(t, s, 1); c.MemberCount != 2 || c.LastJoinSeq != 3 {
		t.Fatalf("counters %+v", c)
	}
	memberIDs := func(room uint64) []uint64 {
		var ids []uint64
		view(t, s, func(tx *storage.Tx) error {
			var err error
			ids, err = tx.ChatMemberIDs(room)
			return err
		})
		return ids
	}
	if a, b, none := memberIDs(1), memberIDs(2), memberIDs(3); !slices.Equal(a, []uint64{10, 30}) ||
		!slices.Equal(b, []uint64{20}) || none != nil {
		t.Fatalf("ChatMemberIDs %v %v %v", a, b, none)
	}
	view(t, s, func(tx *storage.Tx) error {
		cm, err := tx.ChatMember(1, 30)
		if cm.JoinSeq != 3 {
			t.Errorf("member 30: %+v", cm)
		}
		return err
	})
}

func TestChatWritesRefusedInView(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	newChat(t, s, 1)
	view(t, s, func(tx *storage.Tx) error {
		wantErr(t, tx.CreateChatRoom(&storage.ChatRoom{RoomID: 2}), storage.ErrReadOnly)
		wantErr(t, tx.AppendChatMessage(1, &storage.ChatMessage{}), storage.ErrReadOnly)
		wantErr(t, tx.PutChatMessage(&storage.ChatMessage{RoomID: 1, ID: 1}), storage.ErrReadOnly)
		wantErr(t, tx.DeleteChatMessage(1, 1), storage.ErrReadOnly)
		_, err := tx.AddChatMember(1, &storage.ChatMember{MemberID: 1})
		wantErr(t, err, storage.ErrReadOnly)
		wantErr(t, tx.RemoveChatMember(1, 1), storage.ErrReadOnly)
		return nil
	})
}

func TestChatSurvivesReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "roomcast.db")
	s := openAt(t, path)
	newChat(t, s, 4)
	appendMsgs(t, s, 4, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	defer s.Close()
	if c := chatRoom(t, s, 4); c.MessageCount != 3 || c.ChannelKey != "ch-4" {
		t.Fatalf("after reopen %+v", c)
	}
	if got := appendMsgs(t, s, 4, 1); got[0] != 4 {
		t.Fatalf("id after reopen %d", got[0])
	}
}

func BenchmarkChatAppendMessage(b *testing.B) {
	s := storagetest.Open(b)
	newChat(b, s, 1)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Update(func(tx *storage.Tx) error {
			m := storage.ChatMessage{Delivery: "BROADCAST", Type: "MESSAGE", Message: "hello", CreatedAt: chatNow}
			return tx.AppendChatMessage(1, &m)
		})
	}
}

func BenchmarkChatMessagePage(b *testing.B) {
	s := storagetest.Open(b)
	for room := uint64(1); room <= 10; room++ {
		newChat(b, s, room)
		appendMsgs(b, s, room, 1000)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		_ = s.View(func(tx *storage.Tx) error {
			return tx.ForEachChatMessage(5, 500, true, func(storage.ChatMessage) (bool, error) {
				n++
				return n < 20, nil
			})
		})
	}
}
