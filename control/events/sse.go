package events

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/roomcast/roomcast/storage"
)

// fanBatch is how many outbox events one read transaction of the fan-out takes.
const fanBatch = 256

// Reset reasons of the "reset" SSE message.
const (
	ResetInvalidLastEventID = "INVALID_LAST_EVENT_ID" // not a sequence this server issued
	ResetLastEventIDTooOld  = "LAST_EVENT_ID_TOO_OLD" // beyond the kept history
)

// subscriber is one SSE connection: a bounded queue of ready frames.
type subscriber struct {
	appID, memberID uint64
	ch              chan []byte
	gone            chan struct{} // closed when the client is too slow
	once            sync.Once
}

// push queues frame without blocking; a full queue drops the client. It reports
// whether the client was dropped by this call.
func (s *subscriber) push(frame []byte) bool {
	select {
	case s.ch <- frame:
		return false
	default:
		dropped := false
		s.once.Do(func() { close(s.gone); dropped = true })
		return dropped
	}
}

// runFanout reads new room events from the outbox and fans them out to SSE clients.
func (b *Broker) runFanout() {
	defer b.wg.Done()
	t := time.NewTicker(b.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.fanWake:
		case <-t.C:
		}
		if err := b.fanOut(); err != nil {
			b.Log.Error("sse fan-out", "err", err)
		}
	}
}

// fanOut delivers every outbox event after b.fanned.
func (b *Broker) fanOut() error {
	for b.ctx.Err() == nil {
		b.mu.Lock()
		after := b.fanned
		b.mu.Unlock()
		evs, last, err := b.readEvents(after, fanBatch)
		if err != nil || last == after {
			return err
		}
		for _, ev := range evs {
			b.fanOne(ev)
		}
		b.mu.Lock()
		b.fanned = last
		b.mu.Unlock()
	}
	return nil
}

// readEvents reads up to limit outbox events after seq and returns the decoded
// room events among them (those with an SSE message) and the last seq read.
func (b *Broker) readEvents(after uint64, limit int) ([]Event, uint64, error) {
	var out []Event
	last, n := after, 0
	err := b.Store.View(func(tx *storage.Tx) error {
		return tx.ForEachEventAfter(after, func(rec storage.Event) (bool, error) {
			n++
			last = rec.Seq
			if rec.RoomID == 0 && b.OnEvent == nil {
				return n < limit, nil
			}
			ev, err := DecodeEvent(rec)
			if err != nil {
				b.Log.Error("skip undecodable outbox event", "seq", rec.Seq, "err", err)
				return n < limit, nil
			}
			if b.OnEvent != nil {
				b.OnEvent(ev)
			}
			if rec.RoomID != 0 && ev.Message != nil {
				out = append(out, ev)
			}
			return n < limit, nil
		})
	})
	if err != nil {
		return nil, after, fmt.Errorf("read outbox after %d: %w", after, err)
	}
	return out, last, nil
}

// fanOne pushes ev to the connected members joined to its room's channel and to
// the chat listeners (chat events), and advances b.fanned to ev.Seq.
func (b *Broker) fanOne(ev Event) {
	b.mu.Lock()
	noSSE := len(b.subs) == 0
	if noSSE {
		b.fanned = ev.Seq // a later subscriber neither replays nor receives it
	}
	var listeners []*chatListener
	if ev.Audience == AudienceChat {
		listeners = b.chatListeners
	}
	b.mu.Unlock()
	if noSSE && len(listeners) == 0 {
		return
	}
	members, err := b.audience(ev)
	if err != nil {
		b.Log.Error("sse: audience", "room", ev.RoomID, "audience", ev.Audience, "err", err)
	}
	if len(listeners) > 0 {
		b.deliverChat(listeners, ev, members)
	}
	if !noSSE {
		b.fanSSE(ev, members)
	}
}

// fanSSE pushes ev to the SSE streams of members (its audience).
func (b *Broker) fanSSE(ev Event, members []uint64) {
	frame := messageFrame(ev)
	var targets []*subscriber
	b.mu.Lock()
	// Collecting the targets and advancing fanned under one lock: a subscriber
	// registered before gets ev live, one registered after gets it by replay.
	b.fanned = ev.Seq
	for _, m := range members {
		if !ev.ForMember(m) {
			continue
		}
		for s := range b.subs[m] {
			if s.appID == ev.AppID {
				targets = append(targets, s)
			}
		}
	}
	b.mu.Unlock()
	var dropped uint64
	for _, s := range targets {
		if s.push(frame) {
			dropped++
			b.Log.Warn("sse client too slow, disconnected", "member", s.memberID, "queue", b.ClientQueue)
		}
	}
	if dropped > 0 {
		b.mu.Lock()
		b.stats.SSEDropped += dropped
		b.mu.Unlock()
	}
}

// messageFrame is the SSE frame of a room event: id = outbox seq, data = message.
func messageFrame(ev Event) []byte {
	f := make([]byte, 0, len(ev.Message)+32)
	f = append(f, "id: "...)
	f = strconv.AppendUint(f, ev.Seq, 10)
	f = append(f, "\ndata: "...)
	f = append(f, ev.Message...) // compact JSON: no newlines
	return append(f, "\n\n"...)
}

// resetMessage is the data of the "reset" SSE event.
type resetMessage struct {
	Type        string `json:"type"` // "RESET"
	Reason      string `json:"reason"`
	LastEventID string `json:"lastEventId"` // as received (at most 64 bytes)
	ResumeFrom  string `json:"resumeFrom"`  // the id the stream continues after
}

// resetFrame tells the client that replay is impossible and the stream starts now.
func resetFrame(reason, lastID string, upto uint64) []byte {
	if len(lastID) > 64 {
		lastID = lastID[:64]
	}
	id := strconv.FormatUint(upto, 10)
	data, _ := json.Marshal(resetMessage{Type: "RESET", Reason: reason, LastEventID: lastID, ResumeFrom: id})
	return []byte("event: reset\nid: " + id + "\ndata: " + string(data) + "\n\n")
}

// subscribe registers a stream of member m and returns the last seq already fanned
// out: replay covers up to it, the queue everything after.
func (b *Broker) subscribe(m Member) (*subscriber, uint64, bool) {
	s := &subscriber{appID: m.AppID, memberID: m.MemberID,
		ch: make(chan []byte, b.ClientQueue), gone: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.subs == nil {
		return nil, 0, false
	}
	if b.subs[m.MemberID] == nil {
		b.subs[m.MemberID] = map[*subscriber]struct{}{}
	}
	b.subs[m.MemberID][s] = struct{}{}
	b.wg.Add(1)
	return s, b.fanned, true
}

// unsubscribe removes s.
func (b *Broker) unsubscribe(s *subscriber) {
	b.mu.Lock()
	delete(b.subs[s.memberID], s)
	if len(b.subs[s.memberID]) == 0 {
		delete(b.subs, s.memberID)
	}
	b.mu.Unlock()
	b.wg.Done()
}

// ServeEvents serves the SSE stream of member m (GET /v2/members/me/event-sources):
// it runs until the client goes away, the member is too slow, or the Broker closes.
func (b *Broker) ServeEvents(w http.ResponseWriter, r *http.Request, m Member) {
	s, upto, ok := b.subscribe(m)
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"errorCode":"EVENT_SOURCE_UNAVAILABLE","message":"the server is shutting down"}`))
		return
	}
	defer b.unsubscribe(s)
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("lastEventId")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := sseWriter{w: w, rc: http.NewResponseController(w), timeout: b.WriteTimeout}
	defer sw.finish()
	if sw.write([]byte(": connected\nretry: 3000\n\n")) != nil {
		return
	}
	if lastID != "" {
		for _, f := range b.replay(m, lastID, upto) {
			if sw.write(f) != nil {
				return
			}
		}
	}
	b.stream(r, s, &sw)
}

// stream writes queued frames and heartbeats until the client, the queue or the
// broker ends the stream.
func (b *Broker) stream(r *http.Request, s *subscriber, sw *sseWriter) {
	hb := time.NewTicker(b.Heartbeat)
	defer hb.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-b.ctx.Done():
			return
		case <-s.gone:
			return
		case f := <-s.ch:
			err = sw.write(f)
		case <-hb.C:
			err = sw.write([]byte(": heartbeat\n\n"))
		}
		if err != nil {
			return
		}
	}
}

// replay returns the frames member m missed after lastID, up to seq upto, or a
// reset frame when lastID cannot be replayed.
func (b *Broker) replay(m Member, lastID string, upto uint64) [][]byte {
	seq, err := strconv.ParseUint(lastID, 10, 64)
	if err != nil {
		return [][]byte{resetFrame(ResetInvalidLastEventID, lastID, upto)}
	}
	var first, newest uint64
	_ = b.Store.View(func(tx *storage.Tx) error {
		first, newest = tx.FirstEventSeq(), tx.LastEventSeq()
		return nil
	})
	switch {
	case seq > newest:
		return [][]byte{resetFrame(ResetInvalidLastEventID, lastID, upto)}
	case seq >= upto:
		return nil
	case upto-seq > uint64(b.ReplayLimit) || first == 0 || seq+1 < first:
		return [][]byte{resetFrame(ResetLastEventIDTooOld, lastID, upto)}
	}
	var frames [][]byte
	joined := map[audienceKey]bool{}
	for after := seq; after < upto; {
		evs, last, err := b.readEvents(after, fanBatch)
		if err != nil || last == after {
			break
		}
		for _, ev := range evs {
			if ev.Seq > upto {
				break
			}
			if ev.AppID == m.AppID && ev.ForMember(m.MemberID) && b.isJoined(joined, ev, m.MemberID) {
				frames = append(frames, messageFrame(ev))
			}
		}
		after = last
	}
	return frames
}

// audienceKey names the audience of an event: a room's channel or chat room.
type audienceKey struct {
	audience string
	roomID   uint64
}

// audience returns the member IDs ev's message may reach before its receiver set
// is applied: the room channel's members, or the chat room's (AudienceChat).
func (b *Broker) audience(ev Event) ([]uint64, error) {
	switch ev.Audience {
	case AudienceChannel:
		return b.Channels.ChannelMembers(ev.RoomID)
	case AudienceChat:
		chats, ok := b.Channels.(ChatDirectory)
		if !ok {
			return nil, fmt.Errorf("Channels (%T) does not list chat members", b.Channels)
		}
		return chats.ChatMembers(ev.RoomID)
	case AudienceReceivers:
		return ev.Receivers, nil
	}
	return nil, fmt.Errorf("unknown audience %q", ev.Audience)
}

// isJoined reports (memoized per audience) whether member belongs to ev's audience
// now.
func (b *Broker) isJoined(memo map[audienceKey]bool, ev Event, member uint64) bool {
	if ev.Audience == AudienceReceivers {
		return true // the receiver set (ForMember) is the whole audience
	}
	key := audienceKey{ev.Audience, ev.RoomID}
	if v, ok := memo[key]; ok {
		return v
	}
	ids, err := b.audience(ev)
	in := false
	for _, id := range ids {
		in = in || id == member
	}
	memo[key] = in && err == nil
	return memo[key]
}

// sseWriter writes frames with a deadline and a flush each.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// write sends p and flushes it within the write timeout.
func (w *sseWriter) write(p []byte) error {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	if _, err := w.w.Write(p); err != nil {
		return err
	}
	return w.rc.Flush()
}

// finish bounds the end of the response (the server's final flush) for a client
// that stopped reading.
func (w *sseWriter) finish() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(time.Second))
}
