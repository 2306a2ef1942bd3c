package chatsocket

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/roomcast/roomcast/control"
)

// handle runs one client frame. A returned error is fatal (ERROR, close);
// done is true after DISCONNECT.
func (c *conn) handle(f *frame.Frame) (done bool, err error) {
	if !c.connected {
		if f.Command != frame.CONNECT && f.Command != frame.STOMP {
			return false, ErrNotConnected.WithMessage("%s before CONNECT", f.Command)
		}
		return false, c.onConnect(f)
	}
	switch f.Command {
	case frame.SUBSCRIBE:
		return false, c.onSubscribe(f)
	case frame.UNSUBSCRIBE:
		return false, c.onUnsubscribe(f)
	case frame.SEND:
		return false, c.onSend(f)
	case frame.ACK, frame.NACK:
		c.receipt(f) // deliveries are acknowledged by the transport: nothing to do
		return false, nil
	case frame.DISCONNECT:
		c.receipt(f)
		c.push(outFrame{kind: outClose})
		return true, nil
	case frame.CONNECT, frame.STOMP:
		return false, ErrNotConnected.WithMessage("already connected")
	}
	return false, ErrUnsupportedFrame.WithMessage("%s is not supported", f.Command)
}

// onConnect authenticates the member (passcode header, Authorization: Bearer
// header, or the token of the upgrade), negotiates version and heart-beat and
// answers CONNECTED.
func (c *conn) onConnect(f *frame.Frame) error {
	if !acceptsV12(f.Header.Get(frame.AcceptVersion)) {
		return ErrUnsupportedVersion.WithMessage("accept-version %q does not include 1.2", truncate(f.Header.Get(frame.AcceptVersion)))
	}
	_, cy, err := parseHeartBeat(f)
	if err != nil {
		return err
	}
	if tok := connectToken(f); tok != "" {
		c.token = tok
	}
	if c.token == "" {
		return control.ErrUnauthorized.WithMessage("an access token is required (passcode header, Authorization: Bearer, or ?accessToken=)")
	}
	cl, err := c.s.Control.VerifyAccessToken(c.token)
	if err != nil {
		return err
	}
	if err := c.s.login(c, cl.AppID, cl.MemberID); err != nil {
		return err
	}
	c.connected = true
	c.log = c.log.With("member", cl.MemberID)
	sx := durationMS(c.s.HeartBeat)
	out := time.Duration(0)
	if cy > 0 {
		out = max(c.s.HeartBeat, cy)
	}
	hb := strconv.FormatInt(sx, 10) + "," + strconv.FormatInt(sx, 10)
	res := frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, hb,
		frame.Server, "Roomcast/1", frame.Session, strconv.FormatUint(c.id, 10))
	c.beat = out
	c.push(outFrame{kind: outConnected, f: res})
	// The socket ends when the token expires (run stops the timer).
	c.expiry = time.AfterFunc(max(cl.ExpiresAt.Sub(c.s.Control.Time()), 0), func() {
		c.fail(control.ErrUnauthorized.WithMessage("the access token expired"))
	})
	return nil
}

// clientBeat is how long the client may stay silent after CONNECT f: twice
// the negotiated client-to-server interval, 0 when the client sends none.
func (c *conn) clientBeat(f *frame.Frame) time.Duration {
	cx, _, err := parseHeartBeat(f)
	if err != nil || cx == 0 {
		return 0
	}
	return 2 * max(cx, c.s.HeartBeat)
}

// parseHeartBeat reads the heart-beat header (absent: 0,0).
func parseHeartBeat(f *frame.Frame) (cx, cy time.Duration, err error) {
	v, ok := f.Header.Contains(frame.HeartBeat)
	if !ok {
		return 0, 0, nil
	}
	cx, cy, err = frame.ParseHeartBeat(v)
	if err != nil {
		return 0, 0, ErrInvalidFrame.WithMessage("heart-beat %q is not \"cx,cy\"", truncate(v))
	}
	return cx, cy, nil
}

// acceptsV12 reports whether an accept-version header lists 1.2.
func acceptsV12(v string) bool {
	for _, s := range strings.Split(v, ",") {
		if strings.TrimSpace(s) == "1.2" {
			return true
		}
	}
	return false
}

// connectToken is the access token of a CONNECT frame: passcode, else an
// Authorization: Bearer header.
func connectToken(f *frame.Frame) string {
	if p := f.Header.Get(frame.Passcode); p != "" {
		return p
	}
	for _, name := range []string{"Authorization", "authorization"} {
		if v := f.Header.Get(name); len(v) > 7 && strings.EqualFold(v[:7], "Bearer ") {
			return v[7:]
		}
	}
	return ""
}

// durationMS is d in whole milliseconds.
func durationMS(d time.Duration) int64 { return int64(d / time.Millisecond) }

// checkToken verifies the connection's token again (expired or revoked since
// CONNECT is fatal).
func (c *conn) checkToken() error {
	_, err := c.s.Control.VerifyAccessToken(c.token)
	return err
}

// receipt answers f's receipt header, if any.
func (c *conn) receipt(f *frame.Frame, extra ...string) {
	if id, ok := f.Header.Contains(frame.Receipt); ok {
		r := frame.New(frame.RECEIPT, append([]string{frame.ReceiptId, id}, extra...)...)
		c.reply(r)
	}
}

// onSubscribe subscribes to a chat room (joining it) or to the error queue.
func (c *conn) onSubscribe(f *frame.Frame) error {
	id, ok := f.Header.Contains(frame.Id)
	if !ok || id == "" {
		return ErrInvalidFrame.WithMessage("SUBSCRIBE without an id header")
	}
	if _, dup := c.subs[id]; dup {
		return ErrDuplicateSubscription.WithMessage("subscription id %q is in use", truncate(id))
	}
	if len(c.subs) >= c.s.MaxSubscriptions {
		return ErrTooManySubscriptions.WithMessage("at most %d subscriptions per connection", c.s.MaxSubscriptions)
	}
	dest := f.Header.Get(frame.Destination)
	d, ok := parseDestination(dest)
	if !ok || d.messages {
		return ErrUnknownDestination.WithMessage("cannot subscribe to %q", truncate(dest))
	}
	if err := c.checkToken(); err != nil {
		return err
	}
	sub := &subscription{conn: c, id: id, destination: dest}
	if d.errors {
		c.errorsSub = sub
	} else {
		roomID, err := c.s.join(c, d.channelKey, f.Header.Get("password"))
		if err != nil {
			return err
		}
		sub.roomID = roomID
	}
	c.s.register(sub)
	c.receipt(f)
	return nil
}

// onUnsubscribe ends a subscription; the chat membership stays (an unknown id
// is not an error: UNSUBSCRIBE is idempotent).
func (c *conn) onUnsubscribe(f *frame.Frame) error {
	id, ok := f.Header.Contains(frame.Id)
	if !ok || id == "" {
		return ErrInvalidFrame.WithMessage("UNSUBSCRIBE without an id header")
	}
	if sub := c.subs[id]; sub != nil {
		c.s.unregister(sub)
		if sub == c.errorsSub {
			c.errorsSub = nil
		}
	}
	c.receipt(f)
	return nil
}

// onSend stores a member's message. Refusals that harm nobody (validation,
// moderation, not joined, closed) are answered by refuse; a bad frame or an
// expired token is fatal.
func (c *conn) onSend(f *frame.Frame) error {
	dest := f.Header.Get(frame.Destination)
	if err := c.checkToken(); err != nil {
		return err
	}
	d, ok := parseDestination(dest)
	if !ok || !d.messages {
		c.refuse(f, ErrUnknownDestination.WithMessage("cannot send to %q", truncate(dest)))
		return nil
	}
	if ct := f.Header.Get(frame.ContentType); ct != "" && !isJSON(ct) {
		c.refuse(f, control.ErrInvalidRequest.WithMessage("content-type %q: the body must be application/json", truncate(ct)))
		return nil
	}
	id, err := c.s.send(c, d.channelKey, f.Body)
	if err != nil {
		ae, known := toAPIError(err)
		if !known {
			c.log.Error("chat socket send failed", "err", err)
		}
		c.refuse(f, ae)
		return nil
	}
	c.receipt(f, "chat-message-id", strconv.FormatUint(id, 10))
	return nil
}

// refuse answers a refused frame without ending the connection: a RECEIPT
// with error and error-message headers when it asked for one, and a MESSAGE on
// the error queue when the client subscribed to it.
func (c *conn) refuse(f *frame.Frame, ae control.APIError) {
	c.receipt(f, "error", ae.Code(), "error-message", ae.Message())
	if c.errorsSub == nil {
		return
	}
	body := errorBody{ErrorCode: ae.Code(), Message: ae.Message(), Command: f.Command,
		Destination: f.Header.Get(frame.Destination), ReceiptID: f.Header.Get(frame.Receipt)}
	raw, err := json.Marshal(body)
	if err != nil {
		return
	}
	c.errSeq++
	m := frame.New(frame.MESSAGE, frame.Subscription, c.errorsSub.id,
		frame.MessageId, "error-"+strconv.FormatUint(c.errSeq, 10),
		frame.Destination, c.errorsSub.destination, frame.ContentType, contentTypeJSON,
		frame.ContentLength, strconv.Itoa(len(raw)))
	m.Body = raw
	c.reply(m)
}

// isJSON reports whether a content-type is application/json (parameters allowed).
func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), contentTypeJSON)
}
