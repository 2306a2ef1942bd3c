package control

import (
	"strconv"
	"time"

	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// StateActive is the "state" of every app, member, channel and stream key the API
// shows (deleted ones are not shown).
const StateActive = "ACTIVE"

// timeLayout is RFC 3339 UTC with fractional seconds (microseconds), as in the seeds.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// OptTime renders a time as RFC 3339 UTC with microseconds, or nil (JSON null)
// when zero. Plain *string fields keep encoding/json on its fast path (no Marshaler).
func OptTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

// optIn returns p, or nil (JSON null) when *p is empty. Views keep their optional
// texts in an array of their own and point into it: one allocation per view
// instead of one per field (GET room is the hottest App API call).
func optIn(p *string) *string {
	if *p == "" {
		return nil
	}
	return p
}

// formatTimes sets texts[i] to ts[i] in timeLayout ("" for a zero time), with one
// string allocation for all of them.
func formatTimes(texts []string, ts ...time.Time) {
	var buf [8 * len(timeLayout)]byte
	var ends [8]int
	b := buf[:0]
	for i, t := range ts[:min(len(ts), len(ends))] {
		if !t.IsZero() {
			b = appendTime(b, t)
		}
		ends[i] = len(b)
	}
	all, start := string(b), 0
	for i := range ts[:min(len(ts), len(ends))] {
		texts[i], start = all[start:ends[i]], ends[i]
	}
	for i := len(ends); i < len(ts); i++ { // more than 8: one by one
		if !ts[i].IsZero() {
			texts[i] = formatTime(ts[i])
		}
	}
}

// formatTime renders t as RFC 3339 UTC with microseconds.
func formatTime(t time.Time) string {
	var buf [len(timeLayout)]byte
	return string(appendTime(buf[:0], t))
}

// appendTime appends t in timeLayout, as t.UTC().AppendFormat(b, timeLayout)
// does (fraction truncated), without parsing the layout on every call: it is
// half of a room's rendering time otherwise. Years outside 0..9999 take
// AppendFormat.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = appendDigits(append(b, '-'), int(month), 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, 'T'), hour, 2)
	b = appendDigits(append(b, ':'), minute, 2)
	b = appendDigits(append(b, ':'), sec, 2)
	b = appendDigits(append(b, '.'), t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends the n low decimal digits of v (v >= 0), zero-padded.
func appendDigits(b []byte, v, n int) []byte {
	b = append(b, "000000"[:n]...)
	for i := len(b) - 1; n > 0; i, n = i-1, n-1 {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// Opt returns &s, or nil (JSON null) when s is empty.
func Opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// customData is the customData object; it keeps the order of its items and renders
// as null when empty.
type customData []storage.KeyValue

// MarshalJSON implements json.Marshaler (view_json.go).
func (d customData) MarshalJSON() ([]byte, error) { return d.appendJSON(nil), nil }

// appRefJSON is the "app" object of a room.
type appRefJSON struct {
	ID    uint64 `json:"id"`
	State string `json:"state"`
	Name  string `json:"name"`
}

// MemberJSON is a member (the "member" object of a room, and GET member).
type MemberJSON struct {
	ID                   uint64  `json:"id"`
	State                string  `json:"state"`
	AppUserID            string  `json:"appUserId"`
	AppUserName          *string `json:"appUserName"`
	AppUserProfileImgURL *string `json:"appUserProfileImgUrl"`
	CreatedAt            *string `json:"createdAt"`
	LastModifiedAt       *string `json:"lastModifiedAt"`

	text [4]string // backs the optional fields above (optIn); do not copy a memberJSON
}

// NewMemberJSON converts a member record.
func NewMemberJSON(m storage.Member) *MemberJSON {
	j := &MemberJSON{}
	j.fill(m)
	return j
}

// fill sets j from a member record.
func (j *MemberJSON) fill(m storage.Member) {
	j.ID, j.State, j.AppUserID = m.ID, StateActive, m.AppUserID
	j.text[0], j.text[1] = m.AppUserName, m.ProfileImgURL
	formatTimes(j.text[2:], m.CreatedAt, m.UpdatedAt)
	j.AppUserName, j.AppUserProfileImgURL = optIn(&j.text[0]), optIn(&j.text[1])
	j.CreatedAt, j.LastModifiedAt = optIn(&j.text[2]), optIn(&j.text[3])
}

// channelJSON is the "channel" object of a room (one channel per room).
type channelJSON struct {
	ID           uint64  `json:"id"`
	State        string  `json:"state"`
	ChannelState string  `json:"channelState"`
	Name         *string `json:"name"`
}

// roomKeyJSON is the "streamKey" object of a room (never the secret).
type roomKeyJSON struct {
	ID             uint64         `json:"id"`
	State          string         `json:"state"`
	StreamKeyState StreamKeyState `json:"streamKeyState"`
}

// policyJSON is the "policy" object of a room.
type policyJSON struct {
	HasPassword bool `json:"hasPassword"`
}

// statsJSON is the "stats" object of a room.
type statsJSON struct {
	TotalMemberWhitelistCount int `json:"totalMemberWhitelistCount"`
	// ViewerCount is the concurrent viewers now (HLS/DASH viewers seen in the
	// last 30 s, one per member, plus RTMP relay players); PeakViewerCount the
	// most at once during the broadcast (kept after it ends).
	ViewerCount     int `json:"viewerCount"`
	PeakViewerCount int `json:"peakViewerCount"`
	// Ingest is the measured health of the live publish, null when the room's
	// key is not publishing into it.
	Ingest *publish.Health `json:"ingest"`
}

// roomChatJSON is the "chat" object of a room (VideoRoomChat: videoKey,
// channelKey; closed is Roomcast's), null when the room has no chat room.
type roomChatJSON struct {
	VideoKey   string `json:"videoKey"`
	ChannelKey string `json:"channelKey"`
	Closed     bool   `json:"closed"`
}

// AutoEndJSON is the optional "autoEnd" object of a room.
type AutoEndJSON struct {
	InactiveSeconds int `json:"inactiveSeconds"`
}

// AutoCloseJSON is the "autoCloseConfig" object of a room (null when it has
// none: the server's maximum live duration applies).
type AutoCloseJSON struct {
	Type     string `json:"type"`
	Duration int    `json:"duration"` // minutes
}

// RoomJSON is the VideoRoom as the API shows it: every field, null when absent.
type RoomJSON struct {
	ID              uint64         `json:"id"`
	UUID            string         `json:"uuid"`
	State           string         `json:"state"`
	Type            string         `json:"type"`
	Protocol        string         `json:"protocol"`
	Format          string         `json:"format"`
	VideoRoomState  string         `json:"videoRoomState"`
	VODState        string         `json:"vodState"`
	VODURL          *string        `json:"vodUrl"`
	AccessLevel     string         `json:"accessLevel"`
	App             appRefJSON     `json:"app"`
	Member          *MemberJSON    `json:"member"`
	Channel         channelJSON    `json:"channel"`
	CreatorType     string         `json:"creatorType"`
	CreatorID       *uint64        `json:"creatorId"`
	Title           *string        `json:"title"`
	Description     *string        `json:"description"`
	CustomType      *string        `json:"customType"`
	CustomData      customData     `json:"customData"`
	Policy          policyJSON     `json:"policy"`
	ScheduledAt     *string        `json:"scheduledAt"`
	CancelledAt     *string        `json:"cancelledAt"`
	LastSessionNo   int            `json:"lastSessionNo"`
	LiveStartedAt   *string        `json:"liveStartedAt"`
	LiveEndedAt     *string        `json:"liveEndedAt"`
	VODArchivedAt   *string        `json:"vodArchivedAt"`
	StreamKey       *roomKeyJSON   `json:"streamKey"`
	PlayURL         *string        `json:"playUrl"`
	LiveURL         *string        `json:"liveUrl"`
	CMAFHLSPlayURL  *string        `json:"cmafHlsPlayUrl"`
	CMAFDASHPlayURL *string        `json:"cmafDashPlayUrl"`
	RTMPPlayURL     *string        `json:"rtmpPlayUrl"`
	VideoPost       *struct{}      `json:"videoPost"`
	Chat            *roomChatJSON  `json:"chat"`
	Stats           statsJSON      `json:"stats"`
	AutoEnd         *AutoEndJSON   `json:"autoEnd"`
	AutoCloseConfig *AutoCloseJSON `json:"autoCloseConfig"`
	CreatedAt       *string        `json:"createdAt"`
	LastModifiedAt  *string        `json:"lastModifiedAt"`

	// Storage the pointer fields above point into (one allocation per view). A
	// roomJSON must not be copied: the copy's pointers would still point here.
	text      [roomTexts]string
	creatorID uint64
	member    MemberJSON
	streamKey roomKeyJSON
	chat      roomChatJSON
	autoEnd   AutoEndJSON
	autoClose AutoCloseJSON
}

// Indexes of roomJSON.text.
const (
	rtVOD = iota
	rtTitle
	rtDescription
	rtCustomType
	rtPlay
	rtHLS
	rtDASH
	rtRTMP
	rtScheduledAt // the times, in this order (formatTimes)
	rtCancelledAt
	rtLiveStartedAt
	rtLiveEndedAt
	rtVODArchivedAt
	rtCreatedAt
	rtLastModifiedAt
	roomTexts
)

// playURLs are the derived play URLs of a room.
type playURLs struct {
	Play, HLS, DASH, RTMP, VOD string
}

// playURLsOf derives the URLs: live ones only while LIVE, per the publish mode;
// vodUrl once ARCHIVED.
func (c *Control) playURLsOf(r *storage.Room) playURLs {
	var u playURLs
	if VODState(r.VODState) == VODStateArchived && r.VODURL != "" { // VODExpired clears VODURL
		u.VOD = c.PublicHTTPURL + "/vod/" + r.UUID + "/index.m3u8"
	}
	if VideoRoomState(r.VideoRoomState) != VideoRoomStateLive {
		return u
	}
	mode := publish.Mode(r.Mode)
	// Live media is served by the node that ingests the session (a cluster).
	httpBase, rtmpBase := c.PublicHTTPURL, c.PublicRTMPURL
	if n := len(r.Sessions); n > 0 {
		httpBase = defaultString(r.Sessions[n-1].HTTPURL, httpBase)
		rtmpBase = defaultString(r.Sessions[n-1].RTMPURL, rtmpBase)
	}
	if mode.HasCMAF() {
		base := httpBase + "/live/" + r.UUID + "/" + strconv.Itoa(r.LastSessionNo)
		u.HLS, u.DASH = base+"/index.m3u8", base+"/index.mpd"
		u.Play = u.HLS
	}
	if mode.HasRTMP() {
		u.RTMP = rtmpBase + "/play/" + r.UUID
		if u.Play == "" {
			u.Play = u.RTMP
		}
	}
	return u
}

// RoomDeps are the records a room view needs besides the room.
type RoomDeps struct {
	AppName string
	Member  *storage.Member    // nil when the room has no member
	Key     *storage.StreamKey // nil when the room has no key
	Chat    *storage.ChatRoom  // nil when the room has no chat room
}

// LoadRoomDeps reads the member and stream key of r (memo caches members in lists).
func (c *Control) LoadRoomDeps(tx *storage.Tx, r *storage.Room, memo map[uint64]*storage.Member) RoomDeps {
	d := RoomDeps{AppName: c.appName(tx, r.AppID)}
	if r.MemberID != 0 {
		if m, ok := memo[r.MemberID]; ok {
			d.Member = m
		} else if m, err := tx.Member(r.AppID, r.MemberID); err == nil {
			d.Member = &m
			if memo != nil {
				memo[r.MemberID] = &m
			}
		}
	}
	if r.StreamKeyID != 0 {
		if k, err := tx.StreamKey(r.StreamKeyID); err == nil {
			d.Key = &k
		}
	}
	if cr, err := tx.ChatRoom(r.ID); err == nil {
		d.Chat = &cr
	}
	return d
}

// NewRoomJSON converts a room record and its dependencies.
func (c *Control) NewRoomJSON(r *storage.Room, d RoomDeps) *RoomJSON {
	u := c.playURLsOf(r)
	j := &RoomJSON{
		ID: r.ID, UUID: r.UUID, State: string(r.State), Type: r.Type, Protocol: r.Protocol,
		Format: r.Format, VideoRoomState: r.VideoRoomState, VODState: r.VODState,
		AccessLevel: r.AccessLevel,
		App:         appRefJSON{ID: r.AppID, State: StateActive, Name: d.AppName},
		Channel:     channelJSON{ID: r.ID, State: StateActive, ChannelState: "OPENED"},
		CreatorType: r.CreatorType, CustomData: customData(r.CustomData),
		Policy:        policyJSON{HasPassword: len(r.PasswordHash) > 0},
		LastSessionNo: r.LastSessionNo,
	}
	t := &j.text
	t[rtVOD], t[rtTitle], t[rtDescription], t[rtCustomType] = u.VOD, r.Title, r.Description, r.CustomType
	t[rtPlay], t[rtHLS], t[rtDASH], t[rtRTMP] = u.Play, u.HLS, u.DASH, u.RTMP
	formatTimes(t[rtScheduledAt:], r.ScheduledAt, r.CancelledAt, r.LiveStartedAt, r.LiveEndedAt,
		r.VODArchivedAt, r.CreatedAt, r.LastModifiedAt)
	j.VODURL, j.Title, j.Description = optIn(&t[rtVOD]), optIn(&t[rtTitle]), optIn(&t[rtDescription])
	j.Channel.Name, j.CustomType = j.Title, optIn(&t[rtCustomType])
	j.PlayURL, j.LiveURL, j.CMAFHLSPlayURL = optIn(&t[rtPlay]), optIn(&t[rtPlay]), optIn(&t[rtHLS])
	j.CMAFDASHPlayURL, j.RTMPPlayURL = optIn(&t[rtDASH]), optIn(&t[rtRTMP])
	j.ScheduledAt, j.CancelledAt = optIn(&t[rtScheduledAt]), optIn(&t[rtCancelledAt])
	j.LiveStartedAt, j.LiveEndedAt = optIn(&t[rtLiveStartedAt]), optIn(&t[rtLiveEndedAt])
	j.VODArchivedAt, j.CreatedAt = optIn(&t[rtVODArchivedAt]), optIn(&t[rtCreatedAt])
	j.LastModifiedAt = optIn(&t[rtLastModifiedAt])
	setRoomRefs(j, r, d)
	c.setLiveStats(j, r, d.Key)
	return j
}

// setRoomRefs sets the object fields of j (creator, member, stream key, chat,
// autoEnd), pointing into j's own storage.
func setRoomRefs(j *RoomJSON, r *storage.Room, d RoomDeps) {
	if id, err := strconv.ParseUint(r.CreatorID, 10, 64); err == nil {
		j.creatorID = id
		j.CreatorID = &j.creatorID
	}
	if d.Member != nil {
		j.member.fill(*d.Member)
		j.Member = &j.member
	}
	if d.Key != nil && showRoomKey(r, d.Key) {
		j.streamKey = roomKeyJSON{ID: d.Key.ID, State: StateActive,
			StreamKeyState: streamKeyStateOf(d.Key.Publishing, d.Key.RoomID != 0)}
		j.StreamKey = &j.streamKey
	}
	if d.Chat != nil {
		j.chat = roomChatJSON{VideoKey: VideoKey(r.ID), ChannelKey: d.Chat.ChannelKey, Closed: d.Chat.Closed}
		j.Chat = &j.chat
	}
	if r.AutoEndSeconds > 0 {
		j.autoEnd = AutoEndJSON{InactiveSeconds: r.AutoEndSeconds}
		j.AutoEnd = &j.autoEnd
	}
	if r.AutoCloseType != "" {
		j.autoClose = AutoCloseJSON{Type: r.AutoCloseType, Duration: r.AutoCloseMinutes}
		j.AutoCloseConfig = &j.autoClose
	}
}

// showRoomKey reports whether the room shows its key: only while the key is bound
// to it (LIVE, LIVE_INACTIVE). Before (SCHEDULED) the key's state is not the
// room's: the key may be publishing a preview, or be bound to another room; after
// the end the key has forgotten the room. The seeds show "streamKey": null then.
func showRoomKey(r *storage.Room, k *storage.StreamKey) bool {
	switch VideoRoomState(r.VideoRoomState) {
	case VideoRoomStateLive, VideoRoomStateLiveInactive:
		return k.RoomID == r.ID
	}
	return false
}

// StreamKeyJSON is the stream key as its owner and app see it (with the secret).
type StreamKeyJSON struct {
	ID             uint64         `json:"id"`
	State          string         `json:"state"`
	StreamKeyState StreamKeyState `json:"streamKeyState"`
	StreamKey      string         `json:"streamKey"`
	IngestURL      string         `json:"ingestUrl"`
	VideoRoomID    *uint64        `json:"videoRoomId"`
	LastModifiedAt *string        `json:"lastModifiedAt"`
}

// NewStreamKeyJSON converts a stream key record.
func (c *Control) NewStreamKeyJSON(k storage.StreamKey) StreamKeyJSON {
	j := StreamKeyJSON{
		ID: k.ID, State: StateActive, StreamKeyState: streamKeyStateOf(k.Publishing, k.RoomID != 0),
		StreamKey: k.Secret, IngestURL: c.ingestURL(), LastModifiedAt: OptTime(k.UpdatedAt),
	}
	if k.RoomID != 0 {
		id := k.RoomID
		j.VideoRoomID = &id
	}
	return j
}

// ingestURL is the RTMP URL streamers publish to.
func (c *Control) ingestURL() string { return c.PublicRTMPURL + "/" + c.RTMPApp }

// VideoKey is the seed's VideoKey of a room: its ID as a string.
func VideoKey(roomID uint64) string { return strconv.FormatUint(roomID, 10) }
