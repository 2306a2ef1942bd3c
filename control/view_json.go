package control

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Hand-written JSON for the room object, the body of GET room (the hottest App API
// call). It writes exactly the bytes encoding/json writes for roomJSON (same field
// order, null for nil pointers, HTML-safe string escaping), without reflection;
// TestRoomJSONMatchesEncodingJSON keeps the two in step over random rooms, so a
// field added to roomJSON and forgotten here fails the test.

// MarshalJSON implements json.Marshaler with appendJSON (room lists, create and
// state changes encode rooms through encoding/json).
func (j *RoomJSON) MarshalJSON() ([]byte, error) { return j.AppendJSON(nil), nil }

// AppendJSON appends the JSON object of j to b.
func (j *RoomJSON) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, j.ID, 10)
	b = appendStringField(b, `,"uuid":`, j.UUID)
	b = appendStringField(b, `,"state":`, j.State)
	b = appendStringField(b, `,"type":`, j.Type)
	b = appendStringField(b, `,"protocol":`, j.Protocol)
	b = appendStringField(b, `,"format":`, j.Format)
	b = appendStringField(b, `,"videoRoomState":`, j.VideoRoomState)
	b = appendStringField(b, `,"vodState":`, j.VODState)
	b = appendOptField(b, `,"vodUrl":`, j.VODURL)
	b = appendStringField(b, `,"accessLevel":`, j.AccessLevel)
	b = append(b, `,"app":{"id":`...)
	b = strconv.AppendUint(b, j.App.ID, 10)
	b = appendStringField(b, `,"state":`, j.App.State)
	b = appendStringField(b, `,"name":`, j.App.Name)
	b = append(b, `},"member":`...)
	b = j.Member.appendJSON(b)
	b = append(b, `,"channel":{"id":`...)
	b = strconv.AppendUint(b, j.Channel.ID, 10)
	b = appendStringField(b, `,"state":`, j.Channel.State)
	b = appendStringField(b, `,"channelState":`, j.Channel.ChannelState)
	b = appendOptField(b, `,"name":`, j.Channel.Name)
	b = appendStringField(b, `},"creatorType":`, j.CreatorType)
	b = append(b, `,"creatorId":`...)
	if j.CreatorID == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, *j.CreatorID, 10)
	}
	b = appendOptField(b, `,"title":`, j.Title)
	b = appendOptField(b, `,"description":`, j.Description)
	b = appendOptField(b, `,"customType":`, j.CustomType)
	b = append(b, `,"customData":`...)
	b = j.CustomData.appendJSON(b)
	b = append(b, `,"policy":{"hasPassword":`...)
	b = strconv.AppendBool(b, j.Policy.HasPassword)
	b = appendOptField(b, `},"scheduledAt":`, j.ScheduledAt)
	b = appendOptField(b, `,"cancelledAt":`, j.CancelledAt)
	b = append(b, `,"lastSessionNo":`...)
	b = strconv.AppendInt(b, int64(j.LastSessionNo), 10)
	b = appendOptField(b, `,"liveStartedAt":`, j.LiveStartedAt)
	b = appendOptField(b, `,"liveEndedAt":`, j.LiveEndedAt)
	b = appendOptField(b, `,"vodArchivedAt":`, j.VODArchivedAt)
	b = append(b, `,"streamKey":`...)
	if k := j.StreamKey; k == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, k.ID, 10)
		b = appendStringField(b, `,"state":`, k.State)
		b = appendStringField(b, `,"streamKeyState":`, string(k.StreamKeyState))
		b = append(b, '}')
	}
	b = appendOptField(b, `,"playUrl":`, j.PlayURL)
	b = appendOptField(b, `,"liveUrl":`, j.LiveURL)
	b = appendOptField(b, `,"cmafHlsPlayUrl":`, j.CMAFHLSPlayURL)
	b = appendOptField(b, `,"cmafDashPlayUrl":`, j.CMAFDASHPlayURL)
	b = appendOptField(b, `,"rtmpPlayUrl":`, j.RTMPPlayURL)
	b = append(b, `,"videoPost":`...)
	if j.VideoPost == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, "{}"...)
	}
	b = append(b, `,"chat":`...)
	if c := j.Chat; c == nil {
		b = append(b, "null"...)
	} else {
		b = appendStringField(b, `{"videoKey":`, c.VideoKey)
		b = appendStringField(b, `,"channelKey":`, c.ChannelKey)
		b = append(b, `,"closed":`...)
		b = strconv.AppendBool(b, c.Closed)
		b = append(b, '}')
	}
	b = append(b, `,"stats":{"totalMemberWhitelistCount":`...)
	b = strconv.AppendInt(b, int64(j.Stats.TotalMemberWhitelistCount), 10)
	b = append(b, `,"viewerCount":`...)
	b = strconv.AppendInt(b, int64(j.Stats.ViewerCount), 10)
	b = append(b, `,"peakViewerCount":`...)
	b = strconv.AppendInt(b, int64(j.Stats.PeakViewerCount), 10)
	b = append(b, `,"ingest":`...)
	if j.Stats.Ingest == nil {
		b = append(b, "null"...)
	} else if h, err := json.Marshal(j.Stats.Ingest); err == nil {
		b = append(b, h...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `},"autoEnd":`...)
	if j.AutoEnd == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"inactiveSeconds":`...)
		b = strconv.AppendInt(b, int64(j.AutoEnd.InactiveSeconds), 10)
		b = append(b, '}')
	}
	b = append(b, `,"autoCloseConfig":`...)
	if a := j.AutoCloseConfig; a == nil {
		b = append(b, "null"...)
	} else {
		b = appendStringField(b, `{"type":`, a.Type)
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, int64(a.Duration), 10)
		b = append(b, '}')
	}
	b = appendOptField(b, `,"createdAt":`, j.CreatedAt)
	b = appendOptField(b, `,"lastModifiedAt":`, j.LastModifiedAt)
	return append(b, '}')
}

// appendJSON appends the member object, or null for a nil m.
func (m *MemberJSON) appendJSON(b []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, m.ID, 10)
	b = appendStringField(b, `,"state":`, m.State)
	b = appendStringField(b, `,"appUserId":`, m.AppUserID)
	b = appendOptField(b, `,"appUserName":`, m.AppUserName)
	b = appendOptField(b, `,"appUserProfileImgUrl":`, m.AppUserProfileImgURL)
	b = appendOptField(b, `,"createdAt":`, m.CreatedAt)
	b = appendOptField(b, `,"lastModifiedAt":`, m.LastModifiedAt)
	return append(b, '}')
}

// appendJSON appends the customData object (null when empty).
func (d customData) appendJSON(b []byte) []byte {
	if len(d) == 0 {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, kv := range d {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, kv.Name)
		b = append(b, ':')
		b = appendJSONString(b, kv.Value)
	}
	return append(b, '}')
}

// appendStringField appends key (with its leading comma or brace and colon) and s.
func appendStringField(b []byte, key, s string) []byte {
	return appendJSONString(append(b, key...), s)
}

// appendOptField appends key and *s, or null for a nil s.
func appendOptField(b []byte, key string, s *string) []byte {
	b = append(b, key...)
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string escaped as encoding/json does by
// default (HTML-safe: <, > and & as \u00XX; U+2028 and U+2029 escaped; invalid
// UTF-8 replaced by U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
