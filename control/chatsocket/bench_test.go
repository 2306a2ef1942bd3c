package chatsocket_test

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roomcast/roomcast/control/chatsocket"
	"github.com/roomcast/roomcast/storage"
)

// raiseNoFile raises the soft descriptor limit to the hard one and returns it.
func raiseNoFile(b *testing.B) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur < lim.Max {
		old := lim.Cur
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			lim.Cur = old
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		})
	}
	return lim.Max
}

// listeners connects n members (distinct, or one member n times when same)
// to one chat room; each subscribed socket is returned.
func listeners(b *testing.B, e *env, room chatRoom, a app, n int, same bool) []*websocket.Conn {
	var m member
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		if !same || i == 0 {
			m = e.newMember(a, "l"+strconv.Itoa(i))
		}
		c, _ := e.connect(m.Token)
		c.subscribe("s", room.dest())
		conns = append(conns, c.ws)
	}
	return conns
}

// benchEnv is an env over a store in b's temp dir, synced (each message
// fsyncs, as in production) unless noSync.
func benchEnv(b *testing.B, noSync bool, tune func(*chatsocket.Server)) *env {
	s, err := storage.Open(filepath.Join(b.TempDir(), "roomcast.db"), storage.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return startOn(b, s, tune)
}

// BenchmarkFanOut1000: 1 000 members subscribed to one chat room; one member
// SENDs a message and the benchmark waits until all 1 000 sockets received it.
// Custom metrics: the delay from the SEND to each receiver's frame, p50 and
// p99 over all receivers and messages.
func BenchmarkFanOut1000(b *testing.B) {
	const n = 1000
	if lim := raiseNoFile(b); lim < 2*n+256 {
		b.Skipf("RLIMIT_NOFILE hard limit %d < %d: cannot hold %d sockets on both ends", lim, 2*n+256, n)
	}
	e := benchEnv(b, false, nil)
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	conns := listeners(b, e, room, a, n, false)
	sender, _ := e.connect(host.Token)
	sender.subscribe("s", room.dest())

	var mu sync.Mutex
	var delays []time.Duration
	var sentAt atomic.Int64
	var got atomic.Int64
	all := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, ws := range conns {
		wg.Go(func() {
			for {
				_, msg, err := ws.Read(ctx)
				if err != nil {
					return
				}
				if !bytes.HasPrefix(msg, []byte("MESSAGE")) {
					continue
				}
				d := time.Duration(time.Now().UnixNano() - sentAt.Load())
				mu.Lock()
				delays = append(delays, d)
				mu.Unlock()
				if got.Add(1)%n == 0 {
					all <- struct{}{}
				}
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	b.ResetTimer()
	for i := range b.N {
		sentAt.Store(time.Now().UnixNano())
		sender.post(room.messages(), "r"+strconv.Itoa(i), map[string]any{"message": "m" + strconv.Itoa(i)})
		<-all
	}
	b.StopTimer()
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkThroughput1000: messages per second into one chat room with 1 000
// listeners. One member pipelines SENDs, at most window messages ahead of
// the listeners (so no listener's queue of DefaultSendQueue overflows: this is
// the rate the room sustains); all listeners read everything. Reported as
// msgs/s (stored and fanned out) and frames/s (delivered), with and without
// fsync per message.
func BenchmarkThroughput1000(b *testing.B) {
	for _, sync := range []bool{true, false} {
		b.Run("fsync="+strconv.FormatBool(sync), func(b *testing.B) { throughput(b, !sync) })
	}
}

func throughput(b *testing.B, noSync bool) {
	const n, window = 1000, 100
	if lim := raiseNoFile(b); lim < 2*n+256 {
		b.Skipf("RLIMIT_NOFILE hard limit %d < %d", lim, 2*n+256)
	}
	e := benchEnv(b, noSync, nil)
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	conns := listeners(b, e, room, a, n, false)
	sender, _ := e.connect(host.Token)
	sender.subscribe("errors", "/user/queue/errors") // joins nothing: refusals would show here
	sender.send("SUBSCRIBE", []string{"id", "s", "destination", room.dest(), "receipt", "j"}, nil)
	sender.expectReceipt("j")
	sender.send("UNSUBSCRIBE", []string{"id", "s", "receipt", "u"}, nil) // a member, not a listener
	sender.expectReceipt("u")

	var got atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, ws := range conns {
		wg.Go(func() {
			for {
				_, msg, err := ws.Read(ctx)
				if err != nil {
					return
				}
				if bytes.HasPrefix(msg, []byte("MESSAGE")) {
					got.Add(1)
				}
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	waitFor := func(frames int64) {
		deadline := time.Now().Add(time.Minute)
		for got.Load() < frames {
			if e.chat.Stats().Dropped > 0 || time.Now().After(deadline) {
				b.Fatalf("stuck at %d of %d frames: %+v", got.Load(), frames, e.chat.Stats())
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	body := []byte(`{"message":"throughput"}`)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if i >= window {
			waitFor(int64(n) * int64(i-window))
		}
		h := []string{"destination", room.messages()}
		if i%10 == 9 || i == b.N-1 {
			h = append(h, "receipt", strconv.Itoa(i))
		}
		sender.send("SEND", h, body)
		if i%10 == 9 || i == b.N-1 {
			sender.expectReceipt(strconv.Itoa(i))
		}
	}
	waitFor(int64(n) * int64(b.N))
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(n*b.N)/el.Seconds(), "frames/s")
}

// BenchmarkIdleConnections: memory per idle subscribed connection (10 000 when
// the descriptor limit allows both ends in this process, else as many as fit).
// Clients and server share the process: bytes/conn counts both ends (heap and
// stacks), goroutines/conn likewise.
func BenchmarkIdleConnections(b *testing.B) {
	lim := raiseNoFile(b)
	n := 10000
	if int(lim) < 2*n+512 {
		n = (int(lim) - 512) / 2
		b.Logf("RLIMIT_NOFILE hard limit %d: %d connections instead of 10 000", lim, n)
	}
	if n < 1000 {
		b.Skipf("RLIMIT_NOFILE hard limit %d: fewer than 1 000 connections fit", lim)
	}
	for range b.N {
		e := benchEnv(b, true, func(s *chatsocket.Server) { s.MaxConnsPerMember = n; s.MaxConnections = n + 10 })
		a := e.newApp()
		host := e.newMember(a, "host")
		room := e.newChatRoom(a, host, nil)
		g0 := runtime.NumGoroutine()
		before := memInUse()
		conns := listeners(b, e, room, a, n, true)
		after := memInUse()
		g1 := runtime.NumGoroutine()
		if st := e.chat.Stats(); st.Subscriptions != n {
			b.Fatalf("stats %+v", st)
		}
		b.ReportMetric(float64(after-before)/float64(n), "bytes/conn")
		b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/conn")
		b.ReportMetric(float64(n), "conns")
		for _, c := range conns {
			c.CloseNow()
		}
		e.chat.Close()
	}
}

// memInUse is heap and stack memory in use after a GC.
func memInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}
