package chat

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/storage"
)

// DefaultMaxMemberMessageLen is the default Moderator.MaxMessageLen.
const DefaultMaxMemberMessageLen = 2000

// DefaultMaxMatchers is the default Moderator.MaxMatchers.
const DefaultMaxMatchers = 1024

// Refusal reasons: the reason label of roomcast_chat_messages_refused_total.
const (
	ReasonRoomClosed    = "room_closed"
	ReasonTooLong       = "too_long"
	ReasonRateLimited   = "rate_limited"
	ReasonNotMember     = "not_member"
	ReasonMuted         = "muted"
	ReasonForbiddenWord = "forbidden_word"
)

// reasons lists every reason (their counters exist from the start, at 0).
var reasons = []string{ReasonRoomClosed, ReasonTooLong, ReasonRateLimited, ReasonNotMember,
	ReasonMuted, ReasonForbiddenWord}

// Moderator decides whether a member may send a message into a chat room: the
// one entry point of the member send path (Moderate). It holds the per-member
// rate limiter and the compiled forbidden-word matchers; set the exported
// fields, call Initialize, then share it between goroutines. It starts no
// goroutine and needs no Close.
type Moderator struct {
	// Rate is the sustained messages per second of one member, Burst how many it
	// may send at once. Defaults DefaultRate (5) and DefaultBurst (10).
	Rate  float64
	Burst int
	// MaxMessageLen is the longest text of a member's message, in characters
	// (CHAT_MESSAGE_TOO_LONG). Default DefaultMaxMemberMessageLen (2000); every
	// message, admin ones too, is also bounded by MaxMessageLen (10 000).
	MaxMessageLen int
	// MaxMatchers bounds the compiled matchers kept (one per chat room with
	// forbidden words; an arbitrary one is dropped beyond it and compiled again
	// when needed). Default DefaultMaxMatchers (1024).
	MaxMatchers int
	// Registerer receives roomcast_chat_messages_refused_total{reason}. Nil: the
	// counter is kept but not exported.
	Registerer prometheus.Registerer

	limiter *Limiter
	refused map[string]prometheus.Counter

	mu       sync.Mutex
	matchers map[uint64]cachedMatcher // chat room (video room ID) → matcher
}

// cachedMatcher is the matcher of one version of a chat room's words.
type cachedMatcher struct {
	version uint64
	m       *Matcher
}

// Initialize applies the defaults and registers the refusal counter.
func (m *Moderator) Initialize() error {
	if m.MaxMatchers <= 0 {
		m.MaxMatchers = DefaultMaxMatchers
	}
	if m.MaxMessageLen <= 0 {
		m.MaxMessageLen = min(DefaultMaxMemberMessageLen, MaxMessageLen)
	}
	m.limiter = NewLimiter(m.Rate, m.Burst)
	m.matchers = map[uint64]cachedMatcher{}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roomcast_chat_messages_refused_total",
		Help: "Member chat messages refused by moderation, by reason.",
	}, []string{"reason"})
	m.refused = make(map[string]prometheus.Counter, len(reasons))
	for _, r := range reasons {
		m.refused[r] = vec.WithLabelValues(r)
	}
	if m.Registerer != nil {
		if err := m.Registerer.Register(vec); err != nil {
			return fmt.Errorf("register chat moderation metrics: %w", err)
		}
	}
	return nil
}

// Allow takes one message from member's rate budget at now (the limiter alone,
// not counted as a refusal; Moderate calls it).
func (m *Moderator) Allow(memberID uint64, now time.Time) bool {
	return m.limiter.Allow(memberID, now)
}

// Moderate decides whether member may send text into chat room cr at now, inside
// the caller's transaction (read-only is enough), and counts each refusal. The
// checks, cheapest first, so that a flood costs a map lookup per message:
//
//	CHAT_ROOM_CLOSED             400  the chat room is closed
//	CHAT_MESSAGE_TOO_LONG        400  more than m.MaxMessageLen characters
//	CHAT_RATE_LIMITED            429  over the member's rate (Rate, Burst)
//	CHAT_ROOM_MEMBER_NOT_FOUND   404  the member is not in the chat room
//	CHAT_MEMBER_MUTED            403  an active mute (App API …/mute)
//	CHAT_MESSAGE_FORBIDDEN_WORD  400  a forbidden word of the chat room
//
// Every refused message spends a token, so probing the word list is rate
// limited too. Other errors are the store's (wrapped).
func (m *Moderator) Moderate(tx *storage.Tx, cr *storage.ChatRoom, member storage.Member, text string, now time.Time) error {
	switch {
	case cr.Closed:
		return m.refuse(ReasonRoomClosed, ErrRoomClosed)
	case len(text) > m.MaxMessageLen && utf8.RuneCountInString(text) > m.MaxMessageLen:
		return m.refuse(ReasonTooLong, ErrMessageTooLong.WithMessage("the message exceeds %d characters", m.MaxMessageLen))
	case !m.limiter.Allow(member.ID, now):
		return m.refuse(ReasonRateLimited, ErrRateLimited)
	}
	if _, err := tx.ChatMember(cr.RoomID, member.ID); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return m.refuse(ReasonNotMember, ErrMemberNotFound.WithMessage("member %q is not in the chat room", member.AppUserID))
		}
		return fmt.Errorf("read chat member: %w", err)
	}
	mute, err := tx.ChatMute(cr.RoomID, member.ID)
	switch {
	case err == nil && mute.Active(now):
		return m.refuse(ReasonMuted, ErrMemberMuted)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("read chat mute: %w", err)
	}
	matcher, err := m.Matcher(tx, cr)
	if err != nil {
		return err
	}
	if _, found := matcher.Check(text); found {
		return m.refuse(ReasonForbiddenWord, ErrMessageForbiddenWord)
	}
	return nil
}

// refuse counts a refusal for reason and returns err.
func (m *Moderator) refuse(reason string, err error) error {
	m.refused[reason].Inc()
	return err
}

// Matcher returns the compiled forbidden words of chat room cr (nil when it has
// none), compiling them once per cr.ForbiddenWordsVersion.
func (m *Moderator) Matcher(tx *storage.Tx, cr *storage.ChatRoom) (*Matcher, error) {
	if cr.ForbiddenWordsVersion == 0 {
		return nil, nil
	}
	m.mu.Lock()
	c, ok := m.matchers[cr.RoomID]
	m.mu.Unlock()
	if ok && c.version == cr.ForbiddenWordsVersion {
		return c.m, nil
	}
	fw, err := tx.ChatForbiddenWords(cr.RoomID)
	if err != nil {
		return nil, fmt.Errorf("read forbidden words of chat room %d: %w", cr.RoomID, err)
	}
	c = cachedMatcher{version: fw.Version, m: NewMatcher(fw.Words)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.matchers[cr.RoomID]; ok && old.version > c.version {
		return c.m, nil // a newer version is cached already: keep it
	}
	if len(m.matchers) >= m.MaxMatchers {
		for k := range m.matchers { // drop an arbitrary one
			delete(m.matchers, k)
			break
		}
	}
	m.matchers[cr.RoomID] = c
	return c.m, nil
}
