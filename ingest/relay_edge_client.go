package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/yutopp/go-amf0"
	"github.com/yutopp/go-rtmp/handshake"

	"github.com/roomcast/roomcast/ingest/flv"
)

// pullConn is the RTMP client side of a pull from another node: it plays
// rtmp://<node>/play/<room>?edge=<credential> and reads the media messages.
//
// It is not go-rtmp's ClientConn (v0.0.7 cannot play: a message on a created
// stream reaches a nil state handler) nor its ChunkStreamer (whose reader sends an
// acknowledgement through a writer only go-rtmp's own connections set, after
// 1 GiB). It uses go-rtmp's handshake and reads chunks the way go-rtmp's
// ChunkStreamer writes them (the holder is a Roomcast node): per chunk stream, the
// header fields of type 1–3 chunks repeat the previous ones, a message's
// timestamp is the previous one plus the last delta, an extended timestamp
// follows a 0xffffff field of a type 0–2 header only. What it writes (commands,
// acknowledgements) goes out as whole messages in type-0 chunks, after raising
// its chunk size so that none is split. One goroutine owns it.
type pullConn struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	idle    time.Duration // read deadline of each read
	maxMsg  int           // largest message accepted
	inSize  uint32        // the holder's chunk size
	ackWin  uint32        // the holder's acknowledgement window (0: none asked)
	read    uint32        // bytes read since the last acknowledgement
	total   uint32        // bytes read (wraps, as RTMP's sequence number does)
	streams map[uint32]*pullChunkStream
	sid     uint32 // the message stream created for play
}

// pullChunkStream is the state of one chunk stream being read.
type pullChunkStream struct {
	ts, delta, length uint32
	typ               uint8
	sid               uint32
	buf               []byte // the message being assembled (nil between messages)
}

// pullOutChunk is the chunk size of what a pull sends (announced first).
const pullOutChunk = 4096

// dialPull connects to the RTMP base URL base (rtmp://host:port), plays name in
// the play app and returns once the holder answered NetStream.Play.Start, with
// the sequence headers the holder sent before it (every track of the stream).
func dialPull(ctx context.Context, base, name string, handshakeTimeout, idle time.Duration, maxMsg int) (*pullConn, []flv.Tag, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "rtmp" || u.Host == "" {
		return nil, nil, fmt.Errorf("pull: bad node RTMP URL %q", base)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	d := net.Dialer{Timeout: handshakeTimeout}
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, fmt.Errorf("pull: dial %s: %w", host, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()
	c := &pullConn{nc: nc, r: bufio.NewReaderSize(nc, readBufferSize), w: bufio.NewWriter(nc), idle: idle,
		maxMsg: maxMsg, inSize: defaultPeerChunkSize, streams: map[uint32]*pullChunkStream{}}
	headers, err := c.start(name, host, handshakeTimeout)
	if err != nil {
		_ = nc.Close()
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("pull %s: %w", host, ctx.Err())
		}
		return nil, nil, fmt.Errorf("pull %s: %w", host, err)
	}
	if !stop() { // ctx ended just as the play started
		_ = nc.Close()
		return nil, nil, fmt.Errorf("pull %s: %w", host, ctx.Err())
	}
	return c, headers, nil
}

// start runs the handshake, connect, createStream and play, within timeout, and
// returns the media messages that came before NetStream.Play.Start.
func (c *pullConn) start(name, host string, timeout time.Duration) ([]flv.Tag, error) {
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = c.nc.SetDeadline(time.Time{}) }()
	if err := handshake.HandshakeWithServer(c.nc, c.nc, &handshake.Config{}); err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	size := make([]byte, 4)
	binary.BigEndian.PutUint32(size, pullOutChunk)
	if err := c.writeMessage(csidControl, msgSetChunkSize, size, rtmpDefaultChunk); err != nil {
		return nil, err
	}
	if err := c.command(0, "connect", 1, map[string]any{"app": playApp, "type": "nonprivate",
		"flashVer": "Roomcast edge", "tcUrl": "rtmp://" + host + "/" + playApp}); err != nil {
		return nil, err
	}
	if _, err := c.awaitResult(1); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := c.command(0, "createStream", 2, nil); err != nil {
		return nil, err
	}
	res, err := c.awaitResult(2)
	if err != nil {
		return nil, fmt.Errorf("createStream: %w", err)
	}
	for _, v := range res {
		if f, ok := v.(float64); ok && f > 0 {
			c.sid = uint32(f)
		}
	}
	if c.sid == 0 {
		return nil, errors.New("createStream: no stream ID")
	}
	if err := c.command(c.sid, "play", 0, nil, name, float64(-2)); err != nil {
		return nil, err
	}
	var headers []flv.Tag
	for {
		m, err := c.next()
		if err != nil {
			return nil, fmt.Errorf("play: %w", err)
		}
		if m.typ == tagAudio || m.typ == tagVideo {
			if len(headers) >= 8 {
				return nil, errors.New("play: more media than sequence headers before its start")
			}
			headers = append(headers, flv.Tag{Type: m.typ, Timestamp: m.ts, Data: m.body})
			continue
		}
		if m.typ != msgCommandAMF0 {
			continue
		}
		cmd, _, vals := decodeCommand(m.body)
		if cmd != "onStatus" {
			continue
		}
		switch code := statusCode(vals); code {
		case "NetStream.Play.Start":
			return headers, nil
		case "NetStream.Play.Reset":
		default:
			return nil, fmt.Errorf("play refused: %s", code)
		}
	}
}

// awaitResult reads until the _result or _error of transaction tid.
func (c *pullConn) awaitResult(tid float64) ([]any, error) {
	for {
		m, err := c.next()
		if err != nil {
			return nil, err
		}
		if m.typ != msgCommandAMF0 {
			continue
		}
		cmd, id, vals := decodeCommand(m.body)
		if id != tid {
			continue
		}
		switch cmd {
		case "_result":
			return vals, nil
		case "_error":
			return nil, fmt.Errorf("refused: %s", statusCode(vals))
		}
	}
}

// pullMessage is one message read.
type pullMessage struct {
	typ  uint8
	ts   uint32
	body []byte
}

// media reads the next audio or video message as an FLV tag, skipping the rest;
// it fails when the holder closes the connection or sends nothing for idle.
func (c *pullConn) media() (flv.Tag, error) {
	for {
		m, err := c.next()
		if err != nil {
			return flv.Tag{}, err
		}
		switch m.typ {
		case tagAudio, tagVideo:
			return flv.Tag{Type: m.typ, Timestamp: m.ts, Data: m.body}, nil
		}
	}
}

// rtmpDefaultChunk is RTMP's chunk size before Set Chunk Size.
const rtmpDefaultChunk = defaultPeerChunkSize

// next reads the next whole message, applying Set Chunk Size and acknowledging
// as the holder's window asks.
func (c *pullConn) next() (pullMessage, error) {
	for {
		m, ok, err := c.chunk()
		if err != nil {
			return pullMessage{}, err
		}
		if !ok {
			continue
		}
		switch m.typ {
		case msgSetChunkSize:
			if len(m.body) < 4 {
				return pullMessage{}, errors.New("short Set Chunk Size")
			}
			size := binary.BigEndian.Uint32(m.body) & 0x7fffffff
			if size == 0 || int(size) > c.maxMsg {
				return pullMessage{}, fmt.Errorf("chunk size %d out of range", size)
			}
			c.inSize = size
			continue
		case msgWinAckSize:
			if len(m.body) >= 4 {
				c.ackWin = binary.BigEndian.Uint32(m.body)
			}
			continue
		}
		return m, nil
	}
}

// chunk reads one chunk; ok is true when it completed a message.
func (c *pullConn) chunk() (m pullMessage, ok bool, err error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.idle))
	var hdr [11]byte
	if _, err := io.ReadFull(c, hdr[:1]); err != nil {
		return m, false, err
	}
	fmtType, csid := hdr[0]>>6, uint32(hdr[0]&0x3f)
	switch csid {
	case 0:
		if _, err := io.ReadFull(c, hdr[:1]); err != nil {
			return m, false, err
		}
		csid = 64 + uint32(hdr[0])
	case 1:
		if _, err := io.ReadFull(c, hdr[:2]); err != nil {
			return m, false, err
		}
		csid = 64 + uint32(hdr[0]) + uint32(hdr[1])<<8
	}
	st := c.streams[csid]
	if st == nil {
		if fmtType != 0 || len(c.streams) >= maxChunkStreams {
			return m, false, fmt.Errorf("chunk stream %d: type %d header first", csid, fmtType)
		}
		st = &pullChunkStream{}
		c.streams[csid] = st
	}
	n := [4]int{11, 7, 3, 0}[fmtType]
	if _, err := io.ReadFull(c, hdr[:n]); err != nil {
		return m, false, err
	}
	var field uint32
	if n > 0 {
		field = uint32(hdr[0])<<16 | uint32(hdr[1])<<8 | uint32(hdr[2])
		if field == 0xffffff {
			var ext [4]byte
			if _, err := io.ReadFull(c, ext[:]); err != nil {
				return m, false, err
			}
			field = binary.BigEndian.Uint32(ext[:])
		}
	}
	switch fmtType {
	case 0:
		st.ts, st.delta = field, 0
		st.sid = binary.LittleEndian.Uint32(hdr[7:11])
		fallthrough
	case 1:
		st.length = uint32(hdr[3])<<16 | uint32(hdr[4])<<8 | uint32(hdr[5])
		st.typ = hdr[6]
		if fmtType == 1 {
			st.delta = field
		}
	case 2:
		st.delta = field
	}
	if int(st.length) > c.maxMsg {
		return m, false, fmt.Errorf("message of %d bytes exceeds %d", st.length, c.maxMsg)
	}
	if st.buf == nil {
		st.buf = make([]byte, 0, st.length) // a fresh buffer per message: the hub unit owns it
	}
	want := min(int(st.length)-len(st.buf), int(c.inSize))
	start := len(st.buf)
	st.buf = st.buf[:start+want]
	if _, err := io.ReadFull(c, st.buf[start:]); err != nil {
		return m, false, err
	}
	if len(st.buf) < int(st.length) {
		return m, false, nil
	}
	st.ts += st.delta
	m = pullMessage{typ: st.typ, ts: st.ts, body: st.buf}
	st.buf = nil
	return m, true, c.acknowledge()
}

// Read reads from the connection, counting the bytes for acknowledgements.
func (c *pullConn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.read += uint32(n)
	c.total += uint32(n)
	return n, err
}

// acknowledge sends an Acknowledgement once half the holder's window was read
// (as go-rtmp does).
func (c *pullConn) acknowledge() error {
	if c.ackWin == 0 || c.read < c.ackWin/2 {
		return nil
	}
	c.read = 0
	seq := make([]byte, 4)
	binary.BigEndian.PutUint32(seq, c.total)
	return c.writeMessage(csidControl, msgAck, seq, pullOutChunk)
}

// command writes an AMF0 command on message stream sid.
func (c *pullConn) command(sid uint32, name string, tid float64, args ...any) error {
	var buf bytes.Buffer
	enc := amf0.NewEncoder(&buf)
	for _, v := range append([]any{name, tid}, args...) {
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
	}
	return c.writeMessageOn(csidCommand, msgCommandAMF0, sid, buf.Bytes(), pullOutChunk)
}

// writeMessage writes a protocol control message (message stream 0).
func (c *pullConn) writeMessage(csid int, typ uint8, body []byte, chunk int) error {
	return c.writeMessageOn(csid, typ, 0, body, chunk)
}

// writeMessageOn writes body as one message of type typ on message stream sid:
// a type-0 chunk, then type-3 chunks of at most chunk bytes each.
func (c *pullConn) writeMessageOn(csid int, typ uint8, sid uint32, body []byte, chunk int) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.idle))
	var hdr [12]byte
	hdr[0] = byte(csid)
	n := len(body)
	hdr[4], hdr[5], hdr[6] = byte(n>>16), byte(n>>8), byte(n)
	hdr[7] = typ
	binary.LittleEndian.PutUint32(hdr[8:], sid)
	c.w.Write(hdr[:])
	for first := true; first || len(body) > 0; first = false {
		if !first {
			c.w.WriteByte(3<<6 | byte(csid))
		}
		k := min(len(body), chunk)
		c.w.Write(body[:k])
		body = body[k:]
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// Close closes the connection.
func (c *pullConn) Close() error { return c.nc.Close() }

// decodeCommand splits an AMF0 command body into its name, transaction ID and
// the values that follow.
func decodeCommand(body []byte) (name string, tid float64, vals []any) {
	dec := amf0.NewDecoder(bytes.NewReader(body))
	for i := 0; ; i++ {
		var v any
		if err := dec.Decode(&v); err != nil {
			return name, tid, vals
		}
		switch i {
		case 0:
			name, _ = v.(string)
		case 1:
			tid, _ = v.(float64)
		default:
			if e, ok := v.(amf0.ECMAArray); ok {
				v = map[string]any(e)
			}
			vals = append(vals, v)
		}
	}
}

// statusCode is the "code" of the first info object among vals.
func statusCode(vals []any) string {
	for _, v := range vals {
		if obj, ok := v.(map[string]any); ok {
			if code, ok := obj["code"].(string); ok {
				return code
			}
		}
	}
	return "no status code"
}
