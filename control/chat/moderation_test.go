package chat

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// modFixture is a chat room with two members in a real bbolt store and a
// Moderator registered on its own registry.
type modFixture struct {
	t        *testing.T
	s        *storage.Store
	mod      *Moderator
	reg      *prometheus.Registry
	a, b, c  storage.Member // a and b are in the chat room, c is not
	roomID   uint64
	closedID uint64
}

func newModFixture(t *testing.T) *modFixture {
	t.Helper()
	f := &modFixture{t: t, s: storagetest.Open(t), reg: prometheus.NewRegistry(), roomID: 10, closedID: 11}
	f.mod = &Moderator{Registerer: f.reg, Rate: 5, Burst: 10}
	if err := f.mod.Initialize(); err != nil {
		t.Fatal(err)
	}
	err := f.s.Update(func(tx *storage.Tx) error {
		for i, m := range []*storage.Member{&f.a, &f.b, &f.c} {
			m.AppID, m.AppUserID = 1, string(rune('a'+i))
			if err := tx.PutMember(m); err != nil {
				return err
			}
		}
		for _, id := range []uint64{f.roomID, f.closedID} {
			if err := tx.CreateChatRoom(&storage.ChatRoom{RoomID: id, AppID: 1, ChannelKey: fmt.Sprint("ch-", id)}); err != nil {
				return err
			}
			for _, m := range []storage.Member{f.a, f.b} {
				if _, err := tx.AddChatMember(id, &storage.ChatMember{MemberID: m.ID, JoinedAt: t0}); err != nil {
					return err
				}
			}
		}
		_, err := tx.SetChatRoomClosed(f.closedID, t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// moderate runs Moderate in a read transaction, as the send path may.
func (f *modFixture) moderate(roomID uint64, m storage.Member, text string, now time.Time) error {
	f.t.Helper()
	var merr error
	err := f.s.View(func(tx *storage.Tx) error {
		cr, err := tx.ChatRoom(roomID)
		if err != nil {
			return err
		}
		merr = f.mod.Moderate(tx, &cr, m, text, now)
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return merr
}

func (f *modFixture) update(fn func(*storage.Tx) error) {
	f.t.Helper()
	if err := f.s.Update(fn); err != nil {
		f.t.Fatal(err)
	}
}

// TestModerateSentinels: each check answers its sentinel (with its status),
// a clean message passes, and every refusal is counted under its reason.
func TestModerateSentinels(t *testing.T) {
	t.Parallel()
	f := newModFixture(t)
	f.update(func(tx *storage.Tx) error {
		if _, err := tx.SetChatForbiddenWords(f.roomID, []string{"spam", "bad word"}, t0); err != nil {
			return err
		}
		return tx.PutChatMute(&storage.ChatMute{RoomID: f.roomID, MemberID: f.b.ID, MutedAt: t0, Until: t0.Add(time.Minute)})
	})
	cases := []struct {
		name   string
		room   uint64
		m      storage.Member
		text   string
		at     time.Duration
		want   error
		status int
		reason string
	}{
		{"clean", f.roomID, f.a, "hello there", 0, nil, 0, ""},
		{"closed", f.closedID, f.a, "hello", 0, ErrRoomClosed, 400, ReasonRoomClosed},
		{"too long", f.roomID, f.a, strings.Repeat("ü", DefaultMaxMemberMessageLen+1), 0, ErrMessageTooLong, 400, ReasonTooLong},
		{"longest allowed", f.roomID, f.a, strings.Repeat("ü", DefaultMaxMemberMessageLen), 0, nil, 0, ""},
		{"not a member", f.roomID, f.c, "hello", 0, ErrMemberNotFound, 404, ReasonNotMember},
		{"muted", f.roomID, f.b, "hello", 0, ErrMemberMuted, 403, ReasonMuted},
		{"mute ended", f.roomID, f.b, "hello", time.Minute, nil, 0, ""},
		{"forbidden word", f.roomID, f.a, "buy SPAM now", 0, ErrMessageForbiddenWord, 400, ReasonForbiddenWord},
		{"forbidden phrase", f.roomID, f.a, "a bad, word", 0, ErrMessageForbiddenWord, 400, ReasonForbiddenWord},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(f.mod.refused[orNone(tc.reason)])
			err := f.moderate(tc.room, tc.m, tc.text, t0.Add(tc.at))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Moderate = %v, want %v", err, tc.want)
			}
			var ae control.APIError
			if tc.want != nil && (!errors.As(err, &ae) || ae.Status() != tc.status) {
				t.Fatalf("status of %v: want %d", err, tc.status)
			}
			if tc.reason != "" && testutil.ToFloat64(f.mod.refused[tc.reason]) != before+1 {
				t.Fatalf("reason %s not counted", tc.reason)
			}
		})
	}
	// Rate limit: member a has spent 6 tokens at t0 and t0+1min; a fresh instant
	// with a full bucket allows 10, then 429.
	now := t0.Add(time.Hour)
	for i := range 10 {
		if err := f.moderate(f.roomID, f.a, "hi", now); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := f.moderate(f.roomID, f.a, "hi", now); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("11th message: %v", err)
	}
	if got := testutil.ToFloat64(f.mod.refused[ReasonRateLimited]); got != 1 {
		t.Fatalf("rate_limited counted %v", got)
	}
	// Every reason is exported, from 0 on.
	if n := testutil.CollectAndCount(f.reg, "roomcast_chat_messages_refused_total"); n != len(reasons) {
		t.Fatalf("%d refused series, want %d", n, len(reasons))
	}
}

// orNone maps "" to a reason whose counter the case does not move.
func orNone(reason string) string {
	if reason == "" {
		return ReasonRateLimited
	}
	return reason
}

// TestModeratorMatcherFollowsVersion: the compiled matcher is reused while the
// chat room's version stays, and a replacement is seen by the next message.
func TestModeratorMatcherFollowsVersion(t *testing.T) {
	t.Parallel()
	f := newModFixture(t)
	matcher := func() *Matcher {
		var m *Matcher
		_ = f.s.View(func(tx *storage.Tx) error {
			cr, _ := tx.ChatRoom(f.roomID)
			var err error
			m, err = f.mod.Matcher(tx, &cr)
			return err
		})
		return m
	}
	if matcher() != nil {
		t.Fatal("a matcher before any word was set")
	}
	f.update(func(tx *storage.Tx) error {
		_, err := tx.SetChatForbiddenWords(f.roomID, []string{"spam"}, t0)
		return err
	})
	m1 := matcher()
	if m1 == nil || m1 != matcher() {
		t.Fatal("matcher not cached for one version")
	}
	if err := f.moderate(f.roomID, f.a, "spam", t0); !errors.Is(err, ErrMessageForbiddenWord) {
		t.Fatalf("spam: %v", err)
	}
	f.update(func(tx *storage.Tx) error {
		_, err := tx.SetChatForbiddenWords(f.roomID, []string{"eggs"}, t0)
		return err
	})
	if m2 := matcher(); m2 == m1 || m2.Len() != 1 {
		t.Fatal("matcher not recompiled after a replacement")
	}
	if err := f.moderate(f.roomID, f.a, "spam", t0.Add(time.Second)); err != nil {
		t.Fatalf("spam after the replacement: %v", err)
	}
	if err := f.moderate(f.roomID, f.a, "Eggs!", t0.Add(2*time.Second)); !errors.Is(err, ErrMessageForbiddenWord) {
		t.Fatalf("eggs: %v", err)
	}
}

// TestModerateConcurrent: many goroutines moderate at once (run with -race);
// the limiter lets exactly Burst messages of one member through one instant.
func TestModerateConcurrent(t *testing.T) {
	t.Parallel()
	f := newModFixture(t)
	f.update(func(tx *storage.Tx) error {
		_, err := tx.SetChatForbiddenWords(f.roomID, []string{"spam"}, t0)
		return err
	})
	var mu sync.Mutex
	passed := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if f.moderate(f.roomID, f.a, "hello", t0) == nil {
					mu.Lock()
					passed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if passed != 10 {
		t.Fatalf("%d of 40 passed at one instant, want the burst of 10", passed)
	}
}
