package request

import (
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/chat"
)

// MaxMuteSeconds is the longest timed mute (30 days); longer ones are mutes
// without a duration, lifted by unmute.
const MaxMuteSeconds = 30 * 24 * 3600

// ForbiddenWords is the body of PUT …/chat-room/forbidden-words: the whole
// list, replacing the stored one ([] clears it).
type ForbiddenWords struct {
	ForbiddenWords []string `json:"forbiddenWords"`
}

// Validate checks the list (required, at most chat.MaxForbiddenWords words of
// 1..chat.MaxForbiddenWordLen characters, each with a letter or digit) and
// returns it normalised and without duplicates (chat.NormalizeWords).
func (r *ForbiddenWords) Validate() ([]string, error) {
	if r.ForbiddenWords == nil {
		return nil, control.ErrInvalidRequest.WithMessage("forbiddenWords is required ([] clears the list)")
	}
	words, err := chat.NormalizeWords(r.ForbiddenWords)
	if err != nil {
		return nil, control.ErrInvalidRequest.WithMessage("forbiddenWords: %v", err)
	}
	return words, nil
}

// Mute is the optional body of POST …/chat-room/members/{appUserId}/mute.
type Mute struct {
	// Seconds is how long the mute lasts; absent or null: until unmuted.
	Seconds *int64 `json:"seconds"`
}

// Validate returns the duration of the mute (0: until unmuted).
func (r *Mute) Validate() (time.Duration, error) {
	if r.Seconds == nil {
		return 0, nil
	}
	if *r.Seconds < 1 || *r.Seconds > MaxMuteSeconds {
		return 0, control.ErrInvalidRequest.WithMessage("seconds must be 1..%d", MaxMuteSeconds)
	}
	return time.Duration(*r.Seconds) * time.Second, nil
}
