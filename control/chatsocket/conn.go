package chatsocket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/roomcast/roomcast/control"
)

// conn is one chat socket. Goroutines: the reader (the ServeChat goroutine,
// run) owns the STOMP session state (subs is also read by Server under its
// mutex); the writer (runWriter, started and waited for by run) owns the
// WebSocket writes. Anything may push to out or fail the connection.
type conn struct {
	s      *Server
	id     uint64
	log    *slog.Logger
	ws     *websocket.Conn
	ctx    context.Context // cancelled when the connection ends
	cancel context.CancelFunc
	// wctx bounds the writes of queued frames; abortWrite cancels it so that a
	// write blocked on a client that stopped reading ends at once.
	wctx       context.Context
	abortWrite context.CancelFunc
	out        chan outFrame // bounded queue of the writer

	failOnce sync.Once
	failed   chan struct{} // closed by fail
	failErr  control.APIError

	// Written by the reader under Server.mu, read by Server.deliver.
	appID, memberID uint64
	subs            map[string]*subscription

	// Reader only.
	token     string // the access token (never logged)
	connected bool
	expiry    *time.Timer // fails the connection when the token expires
	// beat is the server heart-beat interval, set by the reader before it
	// queues CONNECTED (the queue orders it before the writer reads it).
	beat      time.Duration
	errorsSub *subscription // the /user/queue/errors subscription, if any
	errSeq    uint64
}

// subscription is one SUBSCRIBE of a connection: a chat room (roomID != 0) or
// the connection's error queue.
type subscription struct {
	conn        *conn
	id          string
	destination string
	roomID      uint64
}

// outKind is what the writer does with an outFrame.
type outKind uint8

const (
	outFrameRaw  outKind = iota // write f
	outMessage                  // a chat event MESSAGE for sub
	outConnected                // write f, then beat every beat
	outClose                    // close the socket normally (after DISCONNECT)
)

// outFrame is one item of a connection's queue (four words: the queue is
// allocated whole for every connection).
type outFrame struct {
	kind outKind
	f    *frame.Frame  // outFrameRaw, outConnected
	sub  *subscription // outMessage
	ev   *chatEvent    // outMessage: shared by every receiver of the event
}

// chatEvent is what every MESSAGE of one chat event shares.
type chatEvent struct {
	seq  uint64 // outbox sequence: the message-id
	body []byte // the notification JSON
}

// push queues f without blocking and reports whether it was queued. A full
// queue fails the connection (SLOW_CONSUMER): a slow client never holds up the
// room, the fan-out or the reader.
func (c *conn) push(f outFrame) bool {
	if c.ctx.Err() != nil {
		return false
	}
	select {
	case c.out <- f:
		return true
	default:
		if c.fail(ErrSlowConsumer) {
			c.abortWrite() // the write in progress waits for that client: end it now
			c.s.slowConsumer()
			c.log.Warn("chat socket client too slow, disconnected", "member", c.memberID, "queue", cap(c.out))
		}
		return false
	}
}

// fail ends the connection with an ERROR frame carrying err (best effort: the
// writer sends it ahead of anything still queued, then closes). It reports
// whether this call failed it (only the first does).
func (c *conn) fail(err control.APIError) bool {
	first := false
	c.failOnce.Do(func() {
		c.failErr = err
		close(c.failed)
		first = true
	})
	return first
}

// run serves the socket: the writer goroutine, then the read loop here until
// the connection ends; it returns after the writer has exited.
func (c *conn) run() {
	c.ws.SetReadLimit(int64(c.s.MaxFrameSize) + 1)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.runWriter()
	}()
	err := c.readLoop()
	if c.expiry != nil {
		c.expiry.Stop()
	}
	var ae control.APIError
	if errors.As(err, &ae) {
		c.fail(ae)
	} else {
		if err != nil {
			c.log.Debug("chat socket read ended", "err", err)
		}
		c.cancel() // the client closed the socket (after DISCONNECT or not)
	}
	<-writerDone
	c.ws.CloseNow()
}

// readLoop reads WebSocket messages and handles their frames until an error
// or DISCONNECT. A silent client (no CONNECT within ConnectTimeout, nothing
// within twice the negotiated heart-beat) fails with HEART_BEAT_TIMEOUT.
func (c *conn) readLoop() error {
	silence := time.AfterFunc(c.s.ConnectTimeout, func() { c.fail(ErrHeartBeatTimeout) })
	defer silence.Stop()
	var idle time.Duration // 0: no client heart-beats (the writer pings)
	for {
		msg, err := c.readMessage()
		if err != nil {
			return err
		}
		if idle > 0 {
			silence.Reset(idle)
		}
		frames, derr := decodeFrames(msg)
		for _, f := range frames {
			done, err := c.handle(f)
			if err != nil {
				return err
			}
			if f.Command == frame.CONNECT || f.Command == frame.STOMP {
				silence.Stop()
				if idle = c.clientBeat(f); idle > 0 {
					silence.Reset(idle)
				}
			}
			if done {
				c.drain()
				return nil
			}
		}
		if derr != nil {
			return derr
		}
	}
}

// drain reads and drops what comes after DISCONNECT until the client closes
// the socket (the writer closes it after disconnectGrace otherwise).
func (c *conn) drain() {
	for {
		if _, err := c.readMessage(); err != nil {
			return
		}
	}
}

// disconnectGrace is how long the server waits, after the RECEIPT of a
// DISCONNECT, for the client to close the socket before it closes it itself.
const disconnectGrace = 5 * time.Second

// readMessage reads one WebSocket message of at most MaxFrameSize bytes.
func (c *conn) readMessage() ([]byte, error) {
	_, r, err := c.ws.Reader(c.ctx)
	if err != nil {
		return nil, err
	}
	msg, err := io.ReadAll(io.LimitReader(r, int64(c.s.MaxFrameSize)+1))
	if err != nil {
		return nil, err
	}
	if len(msg) > c.s.MaxFrameSize {
		return nil, ErrFrameTooLarge.WithMessage("the frame exceeds %d bytes", c.s.MaxFrameSize)
	}
	return msg, nil
}

// runWriter writes queued frames, heart-beats and pings until the connection
// fails, closes or ends.
func (c *conn) runWriter() {
	defer c.cancel()
	var w frameWriter
	var beat, ping <-chan time.Time
	var beatT *time.Ticker
	pingT := time.NewTicker(c.s.PingInterval)
	defer pingT.Stop()
	ping = pingT.C
	for {
		select {
		case <-c.failed:
			c.writeFatal(&w)
			return
		case <-c.ctx.Done():
			return
		case of := <-c.out:
			if of.kind == outClose {
				c.closeAfterGrace()
				return
			}
			if err := c.write(&w, of); err != nil {
				c.log.Debug("chat socket write failed", "err", err)
				return
			}
			if of.kind == outConnected && c.beat > 0 {
				beatT = time.NewTicker(c.beat)
				defer beatT.Stop()
				beat, ping = beatT.C, nil // server beats probe the client instead of pings
			}
		case <-beat:
			if err := c.writeBytes([]byte{'\n'}); err != nil {
				return
			}
		case <-ping:
			ctx, cancel := context.WithTimeout(c.ctx, c.s.WriteTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				c.log.Debug("chat socket ping failed", "err", err)
				return
			}
		}
	}
}

// closeAfterGrace waits (after DISCONNECT) for the client to close the socket,
// as STOMP clients do after the RECEIPT, and closes it after disconnectGrace.
func (c *conn) closeAfterGrace() {
	t := time.NewTimer(disconnectGrace)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
	case <-c.failed:
	case <-t.C:
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
	}
}

// write encodes and writes one queued frame as one WebSocket message.
func (c *conn) write(w *frameWriter, of outFrame) error {
	f := of.f
	if of.kind == outMessage {
		f = frame.New(frame.MESSAGE,
			frame.Subscription, of.sub.id,
			frame.MessageId, strconv.FormatUint(of.ev.seq, 10),
			frame.Destination, of.sub.destination,
			frame.ContentType, contentTypeJSON,
			frame.ContentLength, strconv.Itoa(len(of.ev.body)))
		f.Body = of.ev.body
	}
	p, err := w.encode(f)
	if err != nil {
		return err
	}
	return c.writeBytes(p)
}

// writeBytes writes one message within WriteTimeout.
func (c *conn) writeBytes(p []byte) error {
	ctx, cancel := context.WithTimeout(c.wctx, c.s.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, p)
}

// writeFatal sends the ERROR of failErr (within a short deadline: the client
// may be the reason) and closes the socket.
func (c *conn) writeFatal(w *frameWriter) {
	ae := c.failErr
	if p, err := w.encode(errorFrame(ae, "")); err == nil {
		ctx, cancel := context.WithTimeout(c.ctx, min(c.s.WriteTimeout, time.Second))
		_ = c.ws.Write(ctx, websocket.MessageText, p)
		cancel()
	}
	status := websocket.StatusPolicyViolation
	if ae.Is(ErrServerShutdown) {
		status = websocket.StatusGoingAway
	}
	c.log.Debug("chat socket closed with an error", "code", ae.Code())
	// The close handshake reads (and drops) what the client still sends, so the
	// ERROR is not lost to a reset; it gives up after 5 s (coder/websocket).
	_ = c.ws.Close(status, ae.Code())
}

// reply queues a frame for the client; false when the queue overflowed.
func (c *conn) reply(f *frame.Frame) bool {
	return c.push(outFrame{kind: outFrameRaw, f: f})
}

// errorBody is the JSON body of ERROR frames and error queue messages.
type errorBody struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
	// Command, Destination and ReceiptID name the refused frame (error queue only).
	Command     string `json:"command,omitempty"`
	Destination string `json:"destination,omitempty"`
	ReceiptID   string `json:"receiptId,omitempty"`
}

const contentTypeJSON = "application/json"

// errorFrame is the ERROR frame of ae: message header = the code, body
// {"errorCode","message"}; receipt-id when the failing frame asked for one.
func errorFrame(ae control.APIError, receipt string) *frame.Frame {
	body, _ := json.Marshal(errorBody{ErrorCode: ae.Code(), Message: ae.Message()})
	f := frame.New(frame.ERROR, frame.Message, ae.Code(), frame.ContentType, contentTypeJSON,
		frame.ContentLength, strconv.Itoa(len(body)))
	if receipt != "" {
		f.Header.Add(frame.ReceiptId, receipt)
	}
	f.Body = body
	return f
}

// frameWriter encodes frames with go-stomp's frame.Writer into one buffer.
type frameWriter struct {
	buf bytes.Buffer
	w   *frame.Writer
}

// encode returns the bytes of f (valid until the next encode).
func (w *frameWriter) encode(f *frame.Frame) ([]byte, error) {
	if w.w == nil {
		w.w = frame.NewWriterSize(&w.buf, 512)
	}
	w.buf.Reset()
	if err := w.w.Write(f); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

// writeHTTPError answers a refused upgrade with the API's error JSON.
func writeHTTPError(w http.ResponseWriter, err error) {
	ae, _ := toAPIError(err)
	body, _ := json.Marshal(errorBody{ErrorCode: ae.Code(), Message: ae.Message()})
	w.Header().Set("Content-Type", contentTypeJSON)
	if ae.Status() == http.StatusServiceUnavailable || ae.Status() == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(ae.Status())
	_, _ = w.Write(body)
}
