package ingest

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/handshake"
	"github.com/yutopp/go-rtmp/message"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/publish"
)

// recordingProxy forwards connections to a server and records what each client
// sent, handshake included.
type recordingProxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu   sync.Mutex
	sent []*bytes.Buffer
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{t: t, ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *recordingProxy) addr() string { return p.ln.Addr().String() }

func (p *recordingProxy) close() {
	p.ln.Close()
	p.wg.Wait()
}

func (p *recordingProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		rec := &bytes.Buffer{}
		p.mu.Lock()
		p.sent = append(p.sent, rec)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { // server -> client
			defer p.wg.Done()
			_, _ = io.Copy(client, server)
			client.Close()
		}()
		go func() { // client -> server, recorded
			defer p.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					p.mu.Lock()
					rec.Write(buf[:n])
					p.mu.Unlock()
					if _, werr := server.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			server.Close()
		}()
	}
}

// recordings waits for the proxied connections to end and returns what each sent.
func (p *recordingProxy) recordings() [][]byte {
	p.close()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [][]byte
	for _, b := range p.sent {
		out = append(out, b.Bytes())
	}
	return out
}

// TestGuardPassesRecordedSessions publishes h264_aac.flv and plays it back through
// a real server, with go-rtmp's client (chunk size 64 KiB, and 128 with timestamps
// above 2^24), recording what the clients send. The server must get every unit, and
// the recordings, fed again through a guard 1 byte per read, at random read sizes or
// all at once, must pass byte for byte with go-rtmp's own reader in step.
func TestGuardPassesRecordedSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	proxy := newRecordingProxy(t, h.addr())
	tags := readTags(t, "h264_aac.flv")
	all := countUnits(t, tags)
	head, rest := splitHeaders(t, tags)

	pub := dialRTMP(t, proxy.addr())
	if !pub.connect("live") {
		t.Fatal("connect refused")
	}
	if code := pub.publish("key1?mode=RTMP"); code != "NetStream.Publish.Start" {
		t.Fatal(code)
	}
	if err := pub.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	st := h.stream("1")
	player := dialRTMP(t, proxy.addr())
	if !player.connect("play") {
		t.Fatal("player connect refused")
	}
	if code := player.play("room-1?streamingToken=good"); code == "NetStream.Play.Failed" {
		t.Fatal(code)
	}
	h.wait("player attached", func() bool { return st.ReaderCount() == 1 })
	if err := pub.sendTags(rest, false); err != nil {
		t.Fatal(err)
	}
	h.wait("all units", func() bool { n, _ := st.Stats(); return int(n) == all })
	pub.unpublish()
	if r := h.waitStop("1"); r != publish.StopClientUnpublish {
		t.Fatal(r)
	}

	// the default chunk size of 128 and timestamps past the 24-bit field
	small := dialRTMPChunk(t, proxy.addr(), defaultPeerChunkSize)
	if !small.connect("live") {
		t.Fatal("connect refused")
	}
	if code := small.publish("key2"); code != "NetStream.Publish.Start" {
		t.Fatal(code)
	}
	shifted := slices.Clone(tags)
	for i := range shifted {
		shifted[i].Timestamp += 0xffff00
	}
	if err := small.sendTags(shifted, false); err != nil {
		t.Fatal(err)
	}
	st2 := h.stream("2")
	h.wait("all units of key2", func() bool { n, _ := st2.Stats(); return int(n) == all })
	small.unpublish()
	h.waitStop("2")

	for _, c := range []*rtmpClient{pub, player, small} {
		c.close()
	}
	recs := proxy.recordings()
	if len(recs) != 3 {
		t.Fatalf("%d recordings", len(recs))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i, rec := range recs {
		var want []guardMsg
		for _, split := range []func(int) int{nil, oneByte, func(int) int { return 1 + rng.IntN(5000) }} {
			run := runGuard(rec, true, split)
			if run.err != nil || !bytes.Equal(run.passed, rec) {
				t.Fatalf("recording %d: %v, %d of %d bytes passed", i, run.err, len(run.passed), len(rec))
			}
			if want == nil {
				want = run.msgs
				checkInStep(t, run, true)
			} else if !slices.Equal(run.msgs, want) {
				t.Fatalf("recording %d: messages depend on read sizes", i)
			}
		}
		media := 0
		for _, m := range want {
			if m.typ == msgAudio || m.typ == msgVideo {
				media++
			}
		}
		t.Logf("recording %d: %d bytes, %d messages (%d media) passed unchanged", i, len(rec), len(want), media)
	}
}

// hostileRaw opens a connection, does the handshake, sends stream and waits (10 s at
// most) until the server closes the connection.
func hostileRaw(t *testing.T, addr string, stream []byte) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := handshake.HandshakeWithServer(nc, nc, &handshake.Config{}); err != nil {
		t.Fatal(err)
	}
	_, _ = nc.Write(stream) // the server may close before it has read everything
	var ne net.Error
	if _, err := io.Copy(io.Discard, nc); errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server did not close the connection")
	}
}

// hostileShape sends a hostile message whose AMF0 declares count entries or bytes.
type hostileShape struct {
	name string
	send func(t *testing.T, h *harness, count uint32)
}

func hostileShapes() []hostileShape {
	rawCommand := func(name string, args func(count uint32) []any) func(*testing.T, *harness, uint32) {
		return func(t *testing.T, h *harness, count uint32) {
			hostileRaw(t, h.addr(), newChunkWriter().write(commandMsg(t, 0, append([]any{name, 1.0}, args(count)...)...)).b)
		}
	}
	// afterPublish publishes key9 and sends a data message named name, whose body
	// is body(count); the publish must end with INVALID_MEDIA.
	afterPublish := func(name string, body func(t testing.TB, count uint32) []byte) func(*testing.T, *harness, uint32) {
		return func(t *testing.T, h *harness, count uint32) {
			h.mu.Lock()
			delete(h.stops, "9")
			h.mu.Unlock()
			c := publishClient(t, h, "key9")
			if err := c.write(8, 0, &rtmp.ChunkMessage{StreamID: c.sid, Message: &message.DataMessage{
				Name: name, Encoding: message.EncodingTypeAMF0, Body: bytes.NewReader(body(t, count))}}); err != nil {
				t.Fatal(err)
			}
			if err := c.waitClosed(); err == nil {
				t.Fatal("publisher connection open")
			}
			if r := h.waitStop("9"); r != publish.StopInvalidMedia {
				t.Fatalf("stop reason %s", r)
			}
		}
	}
	nestedMeta := func(t testing.TB, count uint32) []byte {
		return amfBody(t, "onMetaData", amfObject("width", amfObject("x", strictArray(count, 0x05))))
	}
	return []hostileShape{
		{"connect with a strict array in its command object", rawCommand("connect", func(n uint32) []any {
			return []any{amfObject("app", strictArray(n, 0x05))}
		})},
		{"command before connect with a top-level strict array", rawCommand("onFoo", func(n uint32) []any {
			return []any{nil, strictArray(n, 0x05)}
		})},
		{"connect with an ECMA array count", rawCommand("connect", func(n uint32) []any {
			return []any{[]byte{0x08, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 0, 3, 'a', 'p', 'p', 0x02, 0, 4, 'l', 'i', 'v', 'e', 0, 0, 9}}
		})},
		{"command with a long string length", rawCommand("onFoo", func(n uint32) []any {
			return []any{nil, []byte{0x0c, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 'a'}}
		})},
		{"@setDataFrame after publish, strict array in two objects", afterPublish("@setDataFrame", nestedMeta)},
		{"onMetaData data message after publish, strict array in two objects", afterPublish("onMetaData",
			func(t testing.TB, n uint32) []byte { return nestedMeta(t, n)[len(amfBody(t, "onMetaData")):] })},
		{"play with a strict array argument", func(t *testing.T, h *harness, count uint32) {
			p := dialRTMP(t, h.addr())
			if !p.connect("play") {
				t.Fatal("player connect refused")
			}
			if err := p.command(p.sid, "play", 0, nil, "room-1?streamingToken=good", strictArray(count, 0x05)); err != nil {
				t.Fatal(err)
			}
			if err := p.waitClosed(); err == nil {
				t.Fatal("player connection open")
			}
		}},
	}
}

// TestHostileAMFCannotExhaustMemory runs a good publisher (relayed to a player)
// while other connections send AMF0 that declares 2^31-1 entries or bytes, in
// commands before and after connect, in data messages after publish and in play.
// Each connection is closed by the guard, the server stays up, its heap does not
// grow, and the publisher's stream gets every unit.
//
// Each shape is first sent with a count of 2^20: were the guard to miss it, go-amf0
// would allocate 16 MiB (not 32 GiB), and the test stops before the real count.
// Not parallel: the heap is measured.
func TestHostileAMFCannotExhaustMemory(t *testing.T) {
	h := newHarness(t, nil)
	tags := readTags(t, "h264_aac.flv")
	good := publishClient(t, h, "key1?mode=RTMP")
	head, rest := splitHeaders(t, tags)
	if err := good.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	st := h.stream("1")
	player := dialRTMP(t, h.addr())
	if !player.connect("play") || player.play("room-1?streamingToken=good") == "NetStream.Play.Failed" {
		t.Fatal("player refused")
	}
	h.wait("player attached", func() bool { return st.ReaderCount() == 1 })

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() { done <- sendScaled(good, rest, 4) }()

	for _, shape := range hostileShapes() {
		t.Run(shape.name, func(t *testing.T) {
			for _, count := range []uint32{1 << 20, 0x7fffffff} {
				refused := h.s.refusedInputs.Load()
				shape.send(t, h, count)
				if h.s.refusedInputs.Load() != refused+1 {
					t.Fatalf("count %d: the connection was not ended by the guard; not going further", count)
				}
			}
		})
		if t.Failed() {
			t.FailNow()
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapSys) - int64(before.HeapSys)
	t.Logf("heap: HeapSys %d -> %d MiB, HeapAlloc %d -> %d MiB, %d MiB allocated meanwhile (publisher included)",
		before.HeapSys>>20, after.HeapSys>>20, before.HeapAlloc>>20, after.HeapAlloc>>20,
		(after.TotalAlloc-before.TotalAlloc)>>20)
	if grew > 100<<20 {
		t.Fatalf("HeapSys grew by %d MiB", grew>>20)
	}

	if err := <-done; err != nil {
		t.Fatalf("good publisher: %v", err)
	}
	all := countUnits(t, tags)
	h.wait("good stream complete", func() bool { n, _ := st.Stats(); return int(n) == all })
	if !player.waitFor("relayed units", func() bool { return len(player.media) >= all/2 }) {
		t.Fatal("player connection ended")
	}
	// the server still takes publishers
	again := publishClient(t, h, "key2")
	if err := again.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	h.stream("2")
	good.unpublish()
	if r := h.waitStop("1"); r != publish.StopClientUnpublish {
		t.Fatal(r)
	}
	if h.reg.Lookup("9") != nil {
		t.Fatal("hostile publisher still registered")
	}
}

// TestCreateStreamLimit: go-rtmp keeps every stream a connection creates; the 17th
// createStream ends the connection.
func TestCreateStreamLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	c := dialRTMP(t, h.addr())
	if !c.connect("live") { // one createStream
		t.Fatal("connect refused")
	}
	for tid := int64(10); tid < 10+maxCreateStreams-1; tid++ {
		if err := c.command(0, "createStream", tid, nil); err != nil {
			t.Fatal(err)
		}
		if !c.waitFor("createStream result", func() bool { return c.results[tid] != nil }) {
			t.Fatalf("connection ended at createStream %d", tid)
		}
		c.mu.Lock()
		res := c.results[tid][0]
		c.mu.Unlock()
		if res != "_result" {
			t.Fatalf("createStream %d: %v", tid, res)
		}
	}
	if err := c.command(0, "createStream", 99, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.waitClosed(); err == nil {
		t.Fatal("connection open after 17 createStream commands")
	}
}

// TestMaxMessageSizeAtTheHeader: a video message above Server.MaxMessageSize ends
// the publish when its chunk header arrives, before go-rtmp buffers it.
func TestMaxMessageSizeAtTheHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *Server) { s.MaxMessageSize = 8 << 10 })
	tags := readTags(t, "h264_aac.flv")
	big := -1
	for i, tg := range tags {
		if tg.Type == flv.TagVideo && len(tg.Data) > 8<<10 {
			big = i
			break
		}
	}
	if big < 0 {
		t.Fatal("no video tag above 8 KiB in h264_aac.flv")
	}
	c := publishClient(t, h, "key1")
	refused := h.s.refusedInputs.Load()
	_ = c.sendTags(tags[:big+1], false)
	if r := h.waitStop("1"); r != publish.StopInvalidMedia {
		t.Fatalf("stop reason %s", r)
	}
	if h.s.refusedInputs.Load() != refused+1 {
		t.Fatal("not refused by the guard")
	}
}
