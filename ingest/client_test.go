package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutopp/go-amf0"
	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/handshake"
	"github.com/yutopp/go-rtmp/message"

	"github.com/roomcast/roomcast/ingest/flv"
)

// rtmpClient is a small RTMP client for tests built on go-rtmp's own handshake,
// chunk streamer and message codecs. (go-rtmp v0.0.7's ClientConn cannot play and
// panics on onStatus messages sent to a created stream, so it cannot show refusals.)
type rtmpClient struct {
	t   testing.TB
	nc  net.Conn
	cs  *rtmp.ChunkStreamer
	sid uint32

	mu       sync.Mutex
	statuses []string
	results  map[int64][]any
	media    []flv.Tag
	changed  chan struct{}
	readErr  error
	readDone chan struct{}

	closeOnce sync.Once
	received  atomic.Int64 // bytes read from the server
}

// countingReader counts the bytes read from r in n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func dialRTMP(t testing.TB, addr string) *rtmpClient {
	t.Helper()
	return dialRTMPChunk(t, addr, clientChunkSize)
}

// dialRTMPChunk is dialRTMP with another chunk size (128 sends no Set Chunk Size).
func dialRTMPChunk(t testing.TB, addr string, size uint32) *rtmpClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := handshake.HandshakeWithServer(nc, nc, &handshake.Config{}); err != nil {
		nc.Close()
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Time{})
	c := &rtmpClient{t: t, nc: nc, results: map[int64][]any{}, changed: make(chan struct{}, 1),
		readDone: make(chan struct{})}
	c.cs = rtmp.NewChunkStreamer(bufio.NewReader(countingReader{nc, &c.received}), bufio.NewWriter(nc), nil)
	// A large chunk size first (before the write goroutine reads it): messages up to
	// 64 KiB (every tag of testdata/) are then never interleaved, so the server sees
	// them in the order they were sent.
	if size != rtmp.DefaultChunkSize {
		if err := c.cs.SelfState().SetChunkSize(size); err != nil {
			t.Fatal(err)
		}
		if err := c.write(2, 0, chunkSizeMsg(size)); err != nil {
			t.Fatal(err)
		}
	}
	go c.readLoop()
	t.Cleanup(c.close)
	return c
}

func (c *rtmpClient) close() {
	c.closeOnce.Do(func() {
		c.nc.Close()
		<-c.readDone
		_ = c.cs.Close()
	})
}

func (c *rtmpClient) readLoop() {
	defer close(c.readDone)
	for {
		var cm rtmp.ChunkMessage
		_, ts, err := c.cs.Read(&cm)
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			c.notify()
			return
		}
		c.mu.Lock()
		switch m := cm.Message.(type) {
		case *message.SetChunkSize:
			_ = c.cs.PeerState().SetChunkSize(m.ChunkSize)
		case *message.CommandMessage:
			vals := decodeAMF(m.Body)
			switch m.CommandName {
			case "_result", "_error":
				c.results[m.TransactionID] = append([]any{m.CommandName}, vals...)
			case "onStatus":
				for _, v := range vals {
					if obj, ok := v.(map[string]any); ok {
						if code, ok := obj["code"].(string); ok {
							c.statuses = append(c.statuses, code)
						}
					}
				}
			}
		case *message.AudioMessage:
			b, _ := io.ReadAll(m.Payload)
			c.media = append(c.media, flv.Tag{Type: flv.TagAudio, Timestamp: ts, Data: b})
		case *message.VideoMessage:
			b, _ := io.ReadAll(m.Payload)
			c.media = append(c.media, flv.Tag{Type: flv.TagVideo, Timestamp: ts, Data: b})
		}
		c.mu.Unlock()
		c.notify()
	}
}

func (c *rtmpClient) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func decodeAMF(r io.Reader) []any {
	dec := amf0.NewDecoder(r)
	var out []any
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			return out
		}
		if e, ok := v.(amf0.ECMAArray); ok {
			v = map[string]any(e)
		}
		out = append(out, v)
	}
}

// waitFor polls cond (under c.mu) until it holds or the connection ends.
func (c *rtmpClient) waitFor(what string, cond func() bool) bool {
	c.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		c.mu.Lock()
		ok, done := cond(), c.readErr != nil
		c.mu.Unlock()
		if ok {
			return true
		}
		if done {
			return false
		}
		select {
		case <-c.changed:
		case <-deadline:
			c.t.Fatalf("timeout waiting for %s", what)
		}
	}
}

// closedErr is the error that ended the read loop, nil while the connection is open.
func (c *rtmpClient) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// closed reports whether the server closed the connection (waits up to 15 s).
func (c *rtmpClient) waitClosed() error {
	c.t.Helper()
	c.waitFor("close", func() bool { return false })
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// command sends an AMF0 command; []byte arguments are sent as they are (raw AMF0).
func (c *rtmpClient) command(sid uint32, name string, tid int64, args ...any) error {
	var buf bytes.Buffer
	enc := amf0.NewEncoder(&buf)
	for _, a := range args {
		if raw, ok := a.([]byte); ok {
			buf.Write(raw)
			continue
		}
		if err := enc.Encode(a); err != nil {
			return err
		}
	}
	return c.write(3, 0, &rtmp.ChunkMessage{StreamID: sid, Message: &message.CommandMessage{
		CommandName: name, TransactionID: tid, Encoding: message.EncodingTypeAMF0, Body: &buf}})
}

func (c *rtmpClient) write(csid int, ts uint32, cm *rtmp.ChunkMessage) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.cs.Write(ctx, csid, ts, cm)
}

// connect sends connect(app) and createStream; ok is false when refused.
func (c *rtmpClient) connect(app string) bool {
	c.t.Helper()
	if err := c.command(0, "connect", 1, map[string]any{
		"app": app, "type": "nonprivate", "flashVer": "FMLE/3.0", "tcUrl": "rtmp://127.0.0.1/" + app}); err != nil {
		c.t.Fatal(err)
	}
	if !c.waitFor("connect result", func() bool { return c.results[1] != nil }) {
		return false
	}
	c.mu.Lock()
	res := c.results[1][0]
	c.mu.Unlock()
	if res != "_result" {
		return false
	}
	if err := c.command(0, "createStream", 2, nil); err != nil {
		c.t.Fatal(err)
	}
	if !c.waitFor("createStream result", func() bool { return c.results[2] != nil }) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.results[2] {
		if f, ok := v.(float64); ok {
			c.sid = uint32(f)
		}
	}
	return c.sid != 0
}

// startCommand sends publish or play and returns the first status code.
func (c *rtmpClient) startCommand(cmd, name string, extra ...any) string {
	c.t.Helper()
	args := append([]any{nil, name}, extra...)
	if err := c.command(c.sid, cmd, 0, args...); err != nil {
		c.t.Fatal(err)
	}
	var code string
	c.waitFor(cmd+" status", func() bool {
		if len(c.statuses) > 0 {
			code = c.statuses[0]
			return true
		}
		return false
	})
	return code
}

func (c *rtmpClient) publish(name string) string { return c.startCommand("publish", name, "live") }

func (c *rtmpClient) play(name string) string { return c.startCommand("play", name, float64(-2)) }

// sendTag sends an FLV file tag as an RTMP message (script tags as @setDataFrame).
func (c *rtmpClient) sendTag(t flv.Tag) error {
	var msg message.Message
	csid := 6
	switch t.Type {
	case flv.TagAudio:
		msg, csid = &message.AudioMessage{Payload: bytes.NewReader(t.Data)}, 4
	case flv.TagVideo:
		msg = &message.VideoMessage{Payload: bytes.NewReader(t.Data)}
	case flv.TagScript:
		msg, csid = &message.DataMessage{Name: "@setDataFrame", Encoding: message.EncodingTypeAMF0,
			Body: bytes.NewReader(t.Data)}, 8
	default:
		return nil
	}
	return c.write(csid, t.Timestamp, &rtmp.ChunkMessage{StreamID: c.sid, Message: msg})
}

// sendFile sends every tag of tags; paced sends them at their timestamps.
func (c *rtmpClient) sendTags(tags []flv.Tag, paced bool) error {
	start := time.Now()
	for _, t := range tags {
		if paced {
			if d := time.Duration(t.Timestamp)*time.Millisecond - time.Since(start); d > 0 {
				time.Sleep(d)
			}
		}
		if err := c.sendTag(t); err != nil {
			return fmt.Errorf("send tag: %w", err)
		}
	}
	return nil
}

func (c *rtmpClient) unpublish() {
	_ = c.command(0, "FCUnpublish", 3, nil, "x")
	_ = c.command(0, "deleteStream", 4, nil, float64(c.sid))
}

func (c *rtmpClient) mediaTags() []flv.Tag {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]flv.Tag(nil), c.media...)
}

func (c *rtmpClient) statusList() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.statuses...)
}

// auDigest is a checksum of one access unit: track kind, key flag, DTS, PTS, payload.
func auDigest(video, key bool, dts, pts time.Duration, payload []byte) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%v %v %d %d ", video, key, dts, pts)
	h.Write(payload)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

var errNoUnits = errors.New("no units")

const clientChunkSize = 64 << 10

func chunkSizeMsg(n uint32) *rtmp.ChunkMessage {
	return &rtmp.ChunkMessage{Message: &message.SetChunkSize{ChunkSize: n}}
}
