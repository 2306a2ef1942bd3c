package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// Message limits (Roomcast's; the seed names none besides customType, which
// follows the Member API's 50 characters). They bound every message, whoever
// sends it; a member's messages may be held to tighter limits by its sender's
// own checks (control/chatsocket).
const (
	MaxMessageLen    = 10000     // characters of "message"
	MaxDataBytes     = 16 * 1024 // compact JSON bytes of "data"
	MaxReceivers     = 100       // entries of "appUserIds"
	MaxCustomTypeLen = 50        // characters of "customType"
	MaxAppUserIDLen  = 128       // characters of each appUserId
)

// Draft is a message as a sender wrote it, before validation: the body of the
// admin send endpoints and of a member's SEND.
type Draft struct {
	Type       string // messageType: MESSAGE, DM or COMMAND ("" is refused)
	CustomType *string
	Message    *string
	Data       json.RawMessage // absent, null or a JSON object
	AppUserIDs []string        // receivers; required for Direct
}

// Validate checks d for delivery del in the order of the seed's error tables
// and returns the message to store (Send). Every refusal is a control.APIError.
func (d *Draft) Validate(del Delivery) (storage.ChatMessage, error) {
	var m storage.ChatMessage
	if d.Type == "" {
		return m, ErrEmptyMessageType
	}
	t, err := ParseMessageType(d.Type)
	if err != nil || !t.AllowedFor(del) {
		return m, control.ErrInvalidRequest.WithMessage("messageType %q is not allowed for %s messages", d.Type, del)
	}
	if del == Direct && len(d.AppUserIDs) == 0 {
		return m, ErrEmptyAppUserIDs
	}
	if utf8.RuneCountInString(deref(d.CustomType)) > MaxCustomTypeLen {
		return m, control.ErrCustomTypeTooLong
	}
	if utf8.RuneCountInString(deref(d.Message)) > MaxMessageLen {
		return m, control.ErrInvalidRequest.WithMessage("message exceeds %d characters", MaxMessageLen)
	}
	data, err := validData(d.Data)
	if err != nil {
		return m, err
	}
	receivers, err := validReceivers(d.AppUserIDs)
	if err != nil {
		return m, err
	}
	return storage.ChatMessage{Delivery: string(del), Type: string(t), CustomType: deref(d.CustomType),
		Message: deref(d.Message), Data: data, Receivers: receivers}, nil
}

// Send stores m as the next message of chat room cr inside tx and writes its
// chat.message_sent event to ob: the one send path of admin messages (App API)
// and member messages (m.Sender set, control/chatsocket). It refuses a closed
// chat room (CHAT_ROOM_CLOSED), sets m's ID, CreatedAt and LastModifiedAt, and
// leaves cr as stored. The caller commits and then emits ob.
func Send(tx *storage.Tx, ob *events.Outbox, cr *storage.ChatRoom, m *storage.ChatMessage, now time.Time) error {
	if cr.Closed {
		return ErrRoomClosed
	}
	now = now.UTC()
	m.CreatedAt, m.LastModifiedAt = now, now
	if err := tx.AppendChatMessage(cr.RoomID, m); err != nil {
		return fmt.Errorf("append chat message: %w", err)
	}
	return AddEvent(tx, ob, events.EventChatMessageSent, cr, m, now)
}

// validData validates "data": absent, null or a JSON object, stored compact.
func validData(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, control.ErrInvalidRequest.WithMessage("data must be a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, control.ErrInvalidRequest.WithMessage("data: %v", err)
	}
	if b.Len() > MaxDataBytes {
		return nil, control.ErrInvalidRequest.WithMessage("data exceeds %d bytes", MaxDataBytes)
	}
	return b.Bytes(), nil
}

// validReceivers validates appUserIds (each 1..MaxAppUserIDLen characters, at
// most MaxReceivers) and drops duplicates, keeping the first occurrence.
func validReceivers(ids []string) ([]string, error) {
	if len(ids) > MaxReceivers {
		return nil, control.ErrInvalidRequest.WithMessage("appUserIds has more than %d entries", MaxReceivers)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == "" || utf8.RuneCountInString(id) > MaxAppUserIDLen {
			return nil, control.ErrInvalidRequest.WithMessage("appUserIds entries must be 1..%d characters", MaxAppUserIDLen)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// deref returns *p or "".
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
