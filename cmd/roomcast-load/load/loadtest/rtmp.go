package loadtest

import (
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// RefusePrefix makes the RTMP server refuse publish names starting with it.
const RefusePrefix = "refuse"

// Counts is what the RTMP server received on one stream name (query stripped).
type Counts struct {
	Audio, Video, Data int
	Bytes              int64 // audio + video payloads + @setDataFrame bodies
	Publishes          int
	Names              []string // full publish names, query included
}

// Tags is the number of audio, video and data messages.
func (c Counts) Tags() int { return c.Audio + c.Video + c.Data }

// RTMPServer is a real go-rtmp server counting received messages per stream.
type RTMPServer struct {
	Addr string // host:port

	srv    *rtmp.Server
	ln     net.Listener
	onPub  PublishHook
	mu     sync.Mutex
	counts map[string]*Counts
	conns  map[net.Conn]struct{}
	open   sync.WaitGroup
	served chan struct{}
}

// PublishHook decides on a publish: name is the publish name without its query.
// A non-nil error refuses it (NetStream.Publish.Failed, connection closed).
type PublishHook func(name string, query url.Values) error

// StartRTMP starts the server on 127.0.0.1:0; t.Cleanup stops it.
func StartRTMP(t testing.TB) *RTMPServer {
	t.Helper()
	return StartRTMPWithHook(t, nil)
}

// StartRTMPWithHook is StartRTMP with a hook consulted on every publish (after the
// RefusePrefix check), e.g. Roomcast's control.PublishStarted.
func StartRTMPWithHook(t testing.TB, hook PublishHook) *RTMPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &RTMPServer{Addr: ln.Addr().String(), ln: ln, counts: map[string]*Counts{},
		conns: map[net.Conn]struct{}{}, served: make(chan struct{}), onPub: hook}
	s.srv = rtmp.NewServer(&rtmp.ServerConfig{OnConnect: s.onConnect})
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(s.close)
	return s
}

func (s *RTMPServer) onConnect(c net.Conn) (io.ReadWriteCloser, *rtmp.ConnConfig) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.open.Add(1)
	l := logrus.New()
	l.Out = io.Discard
	return c, &rtmp.ConnConfig{
		Handler:      &counter{srv: s, conn: c},
		ControlState: rtmp.StreamControlStateConfig{DefaultBandwidthWindowSize: 6 * 1024 * 1024 / 8},
		Logger:       l,
	}
}

func (s *RTMPServer) close() {
	_ = s.srv.Close()
	_ = s.ln.Close()
	<-s.served
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.open.Wait()
}

// WaitIdle waits until every connection has closed (all received messages are then
// counted); false on timeout.
func (s *RTMPServer) WaitIdle(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { s.open.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Counts returns what arrived on stream name (publish name without its query).
func (s *RTMPServer) Counts(name string) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.counts[name]; ok {
		cp := *c
		cp.Names = append([]string(nil), c.Names...)
		return cp
	}
	return Counts{}
}

func (s *RTMPServer) update(name string, f func(*Counts)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.counts[name]
	if !ok {
		c = &Counts{}
		s.counts[name] = c
	}
	f(c)
}

// counter is the go-rtmp handler of one connection.
type counter struct {
	rtmp.DefaultHandler
	srv  *RTMPServer
	conn net.Conn
	name string
}

// OnPublish records the stream name; names starting with RefusePrefix are refused.
func (h *counter) OnPublish(_ *rtmp.StreamContext, _ uint32, cmd *message.NetStreamPublish) error {
	name, rawQuery, _ := strings.Cut(cmd.PublishingName, "?")
	if strings.HasPrefix(name, RefusePrefix) {
		return errors.New("refused by test server")
	}
	if h.srv.onPub != nil {
		q, _ := url.ParseQuery(rawQuery)
		if err := h.srv.onPub(name, q); err != nil {
			return err
		}
	}
	h.name = name
	h.srv.update(name, func(c *Counts) {
		c.Publishes++
		c.Names = append(c.Names, cmd.PublishingName)
	})
	return nil
}

// OnSetDataFrame counts @setDataFrame.
func (h *counter) OnSetDataFrame(_ uint32, data *message.NetStreamSetDataFrame) error {
	h.srv.update(h.name, func(c *Counts) { c.Data++; c.Bytes += int64(len(data.Payload)) })
	return nil
}

// OnAudio counts an audio message.
func (h *counter) OnAudio(_ uint32, payload io.Reader) error {
	n, _ := io.Copy(io.Discard, payload)
	h.srv.update(h.name, func(c *Counts) { c.Audio++; c.Bytes += n })
	return nil
}

// OnVideo counts a video message.
func (h *counter) OnVideo(_ uint32, payload io.Reader) error {
	n, _ := io.Copy(io.Discard, payload)
	h.srv.update(h.name, func(c *Counts) { c.Video++; c.Bytes += n })
	return nil
}

// OnClose marks the connection closed.
func (h *counter) OnClose() {
	h.srv.mu.Lock()
	delete(h.srv.conns, h.conn)
	h.srv.mu.Unlock()
	h.srv.open.Done()
}
