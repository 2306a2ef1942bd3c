package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"

	"github.com/roomcast/roomcast/publish"
)

// errStopped ends go-rtmp's message loop after we decided to stop a connection.
var errStopped = errors.New("connection stopped")

// conn wraps the TCP connection go-rtmp reads and writes: it applies the handshake,
// idle (read) and write deadlines, passes every byte read through the chunk guard
// before go-rtmp sees it, records why we stopped it, and releases the server's
// bookkeeping when go-rtmp closes it (the last step of its goroutine).
type conn struct {
	net.Conn
	s     *Server
	log   *slog.Logger
	guard *chunkGuard // read side only (go-rtmp reads from one goroutine)

	// loop is held by go-rtmp's connection goroutine except while it waits in Read.
	// Other goroutines that write to the connection (the relay) take it: go-rtmp
	// v0.0.7's ChunkStreamer.Write shares one message encoder between callers, so
	// they must never write while go-rtmp writes its own replies (play, acks).
	loop     sync.Mutex
	loopHeld bool // touched by the connection goroutine only

	established atomic.Bool // handshake done: per-read idle deadlines
	noReadLimit atomic.Bool // players: no idle deadline on reads
	// closedByPlayer: the player goroutine closes the connection through go-rtmp
	// (closeFlushed); conn.Close then runs on that goroutine, which holds no loop.
	closedByPlayer atomic.Bool
	timedOut       atomic.Bool
	lastDeadline   time.Time // read side only (go-rtmp reads from one goroutine)
	reason         atomic.Pointer[publish.StopReason]
	closeOnce      sync.Once
}

func (c *conn) Read(b []byte) (int, error) {
	c.releaseLoop()
	defer c.holdLoop()
	if c.established.Load() && !c.noReadLimit.Load() {
		if now := time.Now(); now.Sub(c.lastDeadline) > 500*time.Millisecond {
			_ = c.Conn.SetReadDeadline(now.Add(c.s.IdleTimeout))
			c.lastDeadline = now
		}
	}
	n, err := c.Conn.Read(b)
	for n > 0 {
		kept, gerr := c.guard.inspect(b[:n])
		if gerr != nil {
			return 0, c.refuse(gerr)
		}
		if n = kept; n > 0 || err != nil {
			break
		}
		// the read held only stripped extended timestamps: read on, rather than
		// returning 0 bytes without an error
		n, err = c.Conn.Read(b)
	}
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		c.timedOut.Store(true)
	}
	return n, err
}

// holdLoop and releaseLoop run on go-rtmp's connection goroutine (in Read and Close).
func (c *conn) holdLoop() {
	c.loop.Lock()
	c.loopHeld = true
}

func (c *conn) releaseLoop() {
	if c.loopHeld {
		c.loopHeld = false
		c.loop.Unlock()
	}
}

// refuse ends the connection on input the chunk guard refused (INVALID_MEDIA for a
// publisher). go-rtmp gets the error from Read and closes the connection; nothing
// of the refused read reaches it.
func (c *conn) refuse(err error) error {
	c.s.refusedInputs.Add(1)
	c.log.Warn("refusing RTMP input, closing connection", "reason", publish.StopInvalidMedia, "err", err)
	c.kill(publish.StopInvalidMedia)
	return err
}

func (c *conn) Write(b []byte) (int, error) {
	c.s.writeCalls.Add(1)
	if c.established.Load() {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.s.WriteTimeout))
	}
	return c.Conn.Write(b)
}

// Close is called once by go-rtmp, on the connection's goroutine, as its last step.
func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		if !c.closedByPlayer.Load() {
			c.releaseLoop()
		}
		err = c.Conn.Close()
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		c.s.connWG.Done()
	})
	return err
}

// liftReadLimit ends idle deadlines on reads (players send nothing for long
// stretches): the deadline set by an earlier read is cleared too, or it would cut
// the player IdleTimeout after its play command.
func (c *conn) liftReadLimit() {
	c.noReadLimit.Store(true)
	_ = c.Conn.SetReadDeadline(time.Time{})
}

// closeFlushed closes the connection of a player from its own goroutine through
// go-rtmp, which first waits (at most 3 s) for the messages it is still writing:
// the end of a broadcast reaches the player whole. Closing the socket directly
// (kill) would cut the last frames.
func (h *handler) closeFlushed() {
	h.c.closedByPlayer.Store(true)
	if err := h.rc.Close(); err != nil {
		h.c.log.Debug("close player", "err", err)
	}
}

// established marks the end of the handshake: its deadline is lifted.
func (c *conn) setEstablished() {
	_ = c.Conn.SetDeadline(time.Time{})
	c.established.Store(true)
}

// kill records reason (the first one wins) and closes the socket, which ends
// go-rtmp's read loop; teardown then runs in handler.OnClose.
func (c *conn) kill(reason publish.StopReason) {
	c.reason.CompareAndSwap(nil, &reason)
	_ = c.Conn.Close()
}

// stopReason is the recorded reason, else IDLE_TIMEOUT after a read timeout, else
// CONNECTION_ERROR.
func (c *conn) stopReason() publish.StopReason {
	if r := c.reason.Load(); r != nil {
		return *r
	}
	if c.timedOut.Load() {
		return publish.StopIdleTimeout
	}
	return publish.StopConnectionError
}

// handler is go-rtmp's per-connection callback set. Every callback runs on the
// connection's goroutine; panics are recovered and end only this connection.
type handler struct {
	rtmp.DefaultHandler
	c        *conn
	s        *Server
	rc       *rtmp.Conn
	connApp  string
	flashVer string // the connect command's flashVer (the publisher's software)
	pub      *publisher
	player   *player
	creates  int // createStream commands so far
}

func (h *handler) recover(where string, err *error) {
	if r := recover(); r != nil {
		h.c.log.Error("panic in rtmp handler, closing connection", "where", where, "panic", fmt.Sprint(r))
		h.c.reason.CompareAndSwap(nil, ptr(publish.StopInvalidMedia))
		*err = fmt.Errorf("panic in %s: %v", where, r)
	}
}

func ptr[T any](v T) *T { return &v }

// OnServe is called after the handshake, before go-rtmp reads or writes any
// message: it raises the chunk size of what we send (go-rtmp's default is 128
// bytes) and tells the peer with Set Chunk Size, the first message sent (nginx-rtmp
// and SRS send theirs with the connect reply; clients apply it whenever it comes).
// The writer's chunk size is go-rtmp state read by its write goroutine: it is set
// here, before the first write is handed to that goroutine over a channel, and
// never changed again.
func (h *handler) OnServe(rc *rtmp.Conn) {
	h.rc = rc
	h.c.setEstablished()
	size := h.s.sendChunkSize()
	if size == defaultPeerChunkSize {
		return
	}
	if err := rc.GetChunkStreamer().SelfState().SetChunkSize(size); err != nil {
		h.c.log.Warn("cannot raise the chunk size", "size", size, "err", err)
		return
	}
	if err := h.write(0, csidControl, 0, &message.SetChunkSize{ChunkSize: size}); err != nil {
		h.c.log.Debug("set chunk size", "err", err)
	}
}

// OnConnect accepts the publish app and the play app.
func (h *handler) OnConnect(_ uint32, cmd *message.NetConnectionConnect) error {
	app := appOf(cmd.Command.App)
	if app != h.s.App && app != playApp {
		h.c.log.Warn("refusing connect to unknown app", "app", app)
		return fmt.Errorf("unknown app %q", app)
	}
	h.connApp = cmd.Command.App
	h.flashVer = truncate(cmd.Command.FlashVer, maxFlashVerLen)
	return nil
}

// maxFlashVerLen bounds the flashVer kept for the publish's health.
const maxFlashVerLen = 256

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// OnCreateStream ends a connection that sends more than maxCreateStreams
// createStream commands: go-rtmp keeps every stream created (and looks for a free
// ID linearly), so an endless series would grow without bound.
func (h *handler) OnCreateStream(_ uint32, _ *message.NetConnectionCreateStream) error {
	h.creates++
	if h.creates > maxCreateStreams {
		h.c.log.Warn("too many createStream commands, closing connection", "limit", maxCreateStreams)
		h.c.reason.CompareAndSwap(nil, ptr(publish.StopInvalidMedia))
		return fmt.Errorf("more than %d createStream commands", maxCreateStreams)
	}
	return nil
}

// OnPublish validates the name and mode, asks OnPublishStart, and starts a publisher.
func (h *handler) OnPublish(sc *rtmp.StreamContext, ts uint32, cmd *message.NetStreamPublish) (err error) {
	defer h.recover("publish", &err)
	if h.pub != nil || h.player != nil {
		return h.refusePublish(sc, ts, "publish on a busy connection", errors.New("connection already in use"))
	}
	key, q, ok := splitTarget(h.connApp, cmd.PublishingName, h.s.App)
	if !ok || key == "" {
		return h.refusePublish(sc, ts, "bad publish name", ErrBadName)
	}
	mode, err := publish.ParseMode(q.Get("mode"))
	if err != nil {
		return h.refusePublish(sc, ts, "bad mode", err)
	}
	if err := h.s.reservePublisher(); err != nil {
		return h.refusePublish(sc, ts, err.Error(), err)
	}
	req := PublishRequest{StreamKey: key, Mode: mode, RemoteAddr: h.c.RemoteAddr().String()}
	grant, err := h.s.OnPublishStart(h.s.ctx, req)
	if err != nil {
		h.s.releasePublisher()
		what := "publish refused"
		if errors.Is(err, ErrUnavailable) {
			what = ErrUnavailable.Error()
		}
		return h.refusePublish(sc, ts, what, err)
	}
	p := newPublisher(h, grant, sc.StreamID)
	h.s.mu.Lock()
	_, busy := h.s.publishers[grant.StreamID]
	if !busy {
		h.s.publishers[grant.StreamID] = p
	}
	h.s.mu.Unlock()
	if busy {
		// The key already publishes on this server; the first publisher keeps going
		// and keeps its OnPublishStop, so none is called for this refusal.
		h.s.releasePublisher()
		return h.refusePublish(sc, ts, "stream already publishing", errors.New("stream key already publishing"))
	}
	h.pub = p
	p.log.Info("publish started", "mode", grant.Mode)
	return nil
}

// refusePublish sends NetStream.Publish.BadName and returns an error, which makes
// go-rtmp answer NetStream.Publish.Failed and close the connection.
func (h *handler) refusePublish(sc *rtmp.StreamContext, ts uint32, what string, err error) error {
	h.c.log.Warn("refusing publisher", "why", what, "err", err) // never the key
	h.notifyStatus(sc.StreamID, ts, message.NetStreamOnStatusLevelError,
		message.NetStreamOnStatusCodePublishBadName, what)
	return fmt.Errorf("%s: %w", what, err)
}

// notifyStatus writes an onStatus command on message stream sid.
func (h *handler) notifyStatus(sid, ts uint32, level message.NetStreamOnStatusLevel, code message.NetStreamOnStatusCode, desc string) {
	var buf bytes.Buffer
	enc := message.NewAMFEncoder(&buf, message.EncodingTypeAMF0)
	body := &message.NetStreamOnStatus{InfoObject: message.NetStreamOnStatusInfoObject{
		Level: level, Code: code, Description: desc}}
	if err := message.EncodeBodyAnyValues(enc, body); err != nil {
		return
	}
	h.write(sid, csidCommand, ts, &message.CommandMessage{
		CommandName: "onStatus", Encoding: message.EncodingTypeAMF0, Body: &buf})
}

// Chunk stream IDs used for what we send (csidControl is go-rtmp's own, for
// protocol control messages).
const (
	csidControl = 2
	csidCommand = 5
	csidAudio   = 4
	csidVideo   = 6
	csidData    = 8
)

func (h *handler) write(sid uint32, csid int, ts uint32, msg message.Message) error {
	return h.writeCtx(h.s.ctx, sid, csid, ts, msg)
}

func (h *handler) writeCtx(parent context.Context, sid uint32, csid int, ts uint32, msg message.Message) error {
	ctx, cancel := context.WithTimeout(parent, h.s.WriteTimeout)
	defer cancel()
	return h.rc.Write(ctx, csid, ts, &rtmp.ChunkMessage{StreamID: sid, Message: msg})
}

// OnSetDataFrame passes onMetaData to the publisher (track hints).
func (h *handler) OnSetDataFrame(_ uint32, data *message.NetStreamSetDataFrame) (err error) {
	defer h.recover("metadata", &err)
	if h.pub != nil {
		return h.pub.metadata(data.Payload)
	}
	return nil
}

// OnAudio handles an audio message of a publisher.
func (h *handler) OnAudio(ts uint32, payload io.Reader) (err error) {
	defer h.recover("audio", &err)
	return h.media(tagAudio, ts, payload)
}

// OnVideo handles a video message of a publisher.
func (h *handler) OnVideo(ts uint32, payload io.Reader) (err error) {
	defer h.recover("video", &err)
	return h.media(tagVideo, ts, payload)
}

func (h *handler) media(typ uint8, ts uint32, payload io.Reader) error {
	if h.pub == nil {
		return nil
	}
	if err := h.pub.push(typ, ts, payload); err != nil {
		return err
	}
	return nil
}

// OnFCUnpublish ends the publish at once (CLIENT_UNPUBLISH).
func (h *handler) OnFCUnpublish(_ uint32, _ *message.NetStreamFCUnpublish) error {
	return h.unpublish()
}

// OnDeleteStream ends the publish at once (CLIENT_UNPUBLISH).
func (h *handler) OnDeleteStream(_ uint32, _ *message.NetStreamDeleteStream) error {
	return h.unpublish()
}

func (h *handler) unpublish() error {
	if h.pub == nil {
		return nil
	}
	h.c.reason.CompareAndSwap(nil, ptr(publish.StopClientUnpublish))
	h.pub.finish(h.c.stopReason())
	return errStopped
}

// OnClose runs once when go-rtmp closes the connection.
func (h *handler) OnClose() {
	defer func() {
		if r := recover(); r != nil {
			h.c.log.Error("panic while closing connection", "panic", fmt.Sprint(r))
		}
	}()
	if h.pub != nil {
		h.pub.finish(h.c.stopReason())
	}
	if h.player != nil {
		h.player.stop()
	}
}
