package events_test

import (
	"bufio"
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// BenchmarkOutboxWebhooks measures events per second through the whole path:
// transaction with outbox append (control.IngestCapacity), Emit, enqueue, signed
// POST to a local receiver, delivery recorded. fsync=on is the production setting.
func BenchmarkOutboxWebhooks(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run("fsync="+strconv.FormatBool(sync), func(b *testing.B) {
			var got atomic.Int64
			rcv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.Add(1)
			})}
			e := start(b, "", nil)
			if sync {
				e.reopenSynced()
			}
			ln := listen(b)
			go func() { _ = rcv.Serve(ln) }()
			defer rcv.Close()
			a := e.newApp("a")
			e.setCallback(a, "http://"+ln.Addr().String()+"/hook", nil)
			b.ReportAllocs()
			b.ResetTimer()
			t0 := time.Now()
			for range b.N {
				e.ctl.IngestCapacity(events.EventIngestLimited, 10, 10)
			}
			for got.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "events/s")
			e.stop()
		})
	}
}

// reopenSynced replaces the env's store, control and broker with an fsync'ed store
// on the same file.
func (e *env) reopenSynced() {
	e.t.Helper()
	e.stop()
	store, err := storage.Open(filepath.Join(e.dir, "roomcast.db"), storage.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	*e = *startOn(e.t, e.dir, store, nil)
}

// BenchmarkSSEFanout1000 measures the time for one event to reach 1 000 members
// connected over real HTTP streams (append to the outbox, Emit, fan-out, every
// client has read the message).
func BenchmarkSSEFanout1000(b *testing.B) {
	const members = 1000
	e := start(b, "", func(br *events.Broker) { br.PollInterval = time.Hour })
	a := e.newApp("a")
	host := e.newMember(a, "host")
	room := e.newRoom(a, host, nil)
	aud := connectAudience(b, e, a, room, members)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		aud.received.Add(members)
		e.appendRoomEvent(a.AppID, room, "")
		aud.received.Wait()
	}
	b.StopTimer()
	aud.close()
}

// audience is n members joined to a room, each reading its SSE stream on a
// goroutine; received.Done is called once per data line a member reads.
type audience struct {
	e        *env
	received sync.WaitGroup
	readers  sync.WaitGroup
	cancel   context.CancelFunc
	client   *http.Client
}

// connectAudience creates n members, joins them to room (and its chat room, if
// any), opens their event sources and waits until the broker has them all.
func connectAudience(b *testing.B, e *env, a app, room uint64, n int) *audience {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	aud := &audience{e: e, cancel: cancel,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}}
	for i := range n {
		m := e.newMember(a, "m"+strconv.Itoa(i))
		e.join(m, room)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v2/members/me/event-sources", nil)
		req.Header.Set("Authorization", "Bearer "+m.Access)
		res, err := aud.client.Do(req)
		if err != nil {
			aud.close()
			b.Fatal(err)
		}
		aud.readers.Add(1)
		go aud.read(res)
	}
	for e.broker.Stats().SSEClients < n {
		time.Sleep(time.Millisecond)
	}
	return aud
}

func (aud *audience) read(res *http.Response) {
	defer aud.readers.Done()
	defer res.Body.Close()
	rd := bufio.NewReader(res.Body)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		if strings.HasPrefix(line, "data: ") {
			aud.received.Done()
		}
	}
}

// close stops the server (ending the streams) and waits for the readers.
func (aud *audience) close() {
	aud.e.stop()
	aud.cancel()
	aud.readers.Wait()
	aud.client.CloseIdleConnections()
}
