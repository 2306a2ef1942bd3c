package events

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/roomcast/roomcast/storage"
)

// Defaults of the Broker config fields.
const (
	DefaultHeartbeat       = 15 * time.Second
	DefaultClientQueue     = 64
	DefaultWriteTimeout    = 10 * time.Second
	DefaultReplayLimit     = 10000
	DefaultWorkers         = 8
	DefaultAttemptTimeout  = 10 * time.Second
	DefaultConnectTimeout  = 5 * time.Second
	DefaultRetryBase       = 5 * time.Second
	DefaultRetryMax        = time.Hour
	DefaultRetryWindow     = 24 * time.Hour
	DefaultMaxResponseBody = 64 << 10
	DefaultRetention       = 72 * time.Hour
	DefaultPruneInterval   = time.Minute
	DefaultPollInterval    = time.Second
)

// ChannelDirectory tells which members are joined to a room's channel (the
// control plane implements it; cmd wires it).
type ChannelDirectory interface {
	ChannelMembers(roomID uint64) ([]uint64, error)
}

// ChatDirectory tells which members are in a room's chat room (the control plane
// implements it). Broker.Channels must implement it for chat messages
// (AudienceChat) to reach anyone over SSE.
type ChatDirectory interface {
	ChatMembers(roomID uint64) ([]uint64, error)
}

// Broker delivers outbox events: member SSE streams (ServeEvents) and signed
// webhooks with retries (it is the Emitter and the Waker). Set the exported
// fields, call Initialize, and Close when done.
type Broker struct {
	// Store is the open store holding the outbox (required).
	Store *storage.Store
	// Channels resolves channel membership for SSE fan-out (required; the Control).
	// When it also implements ChatDirectory, chat messages are fanned out to chat
	// room members.
	Channels ChannelDirectory
	// Log receives delivery failures and drops. Default slog.Default().
	Log *slog.Logger
	// Now is the clock of delivery records and retries. Default time.Now.
	Now func() time.Time

	// Heartbeat is the interval of SSE comment lines on idle streams. Default 15 s.
	Heartbeat time.Duration
	// ClientQueue is how many SSE messages may wait for one client; a client that
	// falls further behind is disconnected. Default 64.
	ClientQueue int
	// WriteTimeout bounds each write to an SSE client. Default 10 s.
	WriteTimeout time.Duration
	// ReplayLimit is the largest number of outbox events (all apps) a Last-Event-ID
	// may be behind; older ids start from now with a reset message. Default 10 000.
	ReplayLimit int

	// Client posts webhooks. Default: 5 s connect, AttemptTimeout in total, no
	// redirects followed (a 3xx answer is a failed attempt).
	Client *http.Client
	// Workers is the number of concurrent webhook attempts. Default 8.
	Workers int
	// AttemptTimeout bounds one webhook attempt (connect, send, answer). Default 10 s.
	AttemptTimeout time.Duration
	// RetryBase is the first retry delay; each next one doubles up to RetryMax, with
	// jitter (each delay is drawn in [d/2, d]). Defaults 5 s and 1 h.
	RetryBase, RetryMax time.Duration
	// RetryWindow is how long a delivery is retried before it is FAILED. Default 24 h.
	RetryWindow time.Duration
	// MaxResponseBody is how many bytes of a webhook answer are read. Default 64 KiB.
	MaxResponseBody int64

	// Retention is how long outbox events (the SSE replay history) and finished
	// deliveries (the delivery log) are kept. Default 72 h.
	Retention time.Duration
	// PruneInterval is how often retention runs. Default 1 min.
	PruneInterval time.Duration
	// PollInterval is how often the outbox is read without a wake-up (safety net and
	// retry timer ceiling). Default 1 s.
	PollInterval time.Duration

	// Lead, when set (a cluster), runs fn only while this node is the one leader of
	// name cluster-wide (cluster.Coordinator.Lead): webhook attempts are made by one
	// node at a time. Nil: this process delivers.
	Lead func(ctx context.Context, name string, fn func(ctx context.Context)) error
	// OnEvent, when set, is called with every outbox event, whichever node
	// appended it, once and in order, from the fan-out goroutine inside its read
	// transaction (it must not block): a cluster node reacts to the transitions
	// other nodes commit.
	OnEvent func(Event)

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	wakeOnce  sync.Once // Emit may come before Initialize (control's boot timers)
	fanWake   chan struct{}
	hookWake  chan struct{}
	jobs      chan job
	ownClient bool

	mu     sync.Mutex
	closed bool
	fanned uint64                              // last outbox seq fanned out to SSE
	subs   map[uint64]map[*subscriber]struct{} // memberID → streams
	// chatListeners receive chat events (ListenChat); replaced, never edited in
	// place, so the fan-out may use a snapshot outside mu.
	chatListeners []*chatListener
	inflight      map[uint64]struct{} // delivery IDs being attempted
	stats         Stats
}

// Stats are counters of a Broker since Initialize.
type Stats struct {
	SSEClients      int    // connected now
	SSEDropped      uint64 // clients disconnected for being too slow
	WebhookAttempts uint64
	WebhookFailures uint64 // attempts without a 2xx
}

// Stats returns a snapshot of the counters.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	for _, m := range b.subs {
		s.SSEClients += len(m)
	}
	return s
}

// Initialize applies defaults and starts the fan-out, the dispatcher and its
// workers. SSE starts at the current end of the outbox; webhooks resume from their
// stored cursor.
func (b *Broker) Initialize() error {
	if b.Store == nil || b.Channels == nil {
		return errors.New("events: Store and Channels are required")
	}
	b.applyDefaults()
	var last uint64
	if err := b.Store.View(func(tx *storage.Tx) error { last = tx.LastEventSeq(); return nil }); err != nil {
		return err
	}
	if _, ok := b.Channels.(ChatDirectory); !ok {
		b.Log.Warn("events: Channels does not list chat members; chat messages reach no SSE client")
	}
	b.fanned = last
	// Events appended by other nodes of a cluster wake the fan-out and the
	// dispatcher like local ones (no-op on bbolt: every append is local).
	b.Store.WatchEvents(func() { wake(b.fanWake); wake(b.hookWake) })
	b.subs = map[uint64]map[*subscriber]struct{}{}
	b.inflight = map[uint64]struct{}{}
	b.initWake()
	b.jobs = make(chan job, b.Workers)
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.wg.Add(2 + b.Workers)
	go b.runFanout()
	go b.runDispatch()
	for range b.Workers {
		go b.runWorker()
	}
	return nil
}

// applyDefaults fills zero config fields.
func (b *Broker) applyDefaults() {
	if b.Log == nil {
		b.Log = slog.Default()
	}
	if b.Now == nil {
		b.Now = time.Now
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setDur(&b.Heartbeat, DefaultHeartbeat)
	setDur(&b.WriteTimeout, DefaultWriteTimeout)
	setDur(&b.AttemptTimeout, DefaultAttemptTimeout)
	setDur(&b.RetryBase, DefaultRetryBase)
	setDur(&b.RetryMax, DefaultRetryMax)
	setDur(&b.RetryWindow, DefaultRetryWindow)
	setDur(&b.Retention, DefaultRetention)
	setDur(&b.PruneInterval, DefaultPruneInterval)
	setDur(&b.PollInterval, DefaultPollInterval)
	if b.ClientQueue <= 0 {
		b.ClientQueue = DefaultClientQueue
	}
	if b.ReplayLimit <= 0 {
		b.ReplayLimit = DefaultReplayLimit
	}
	if b.Workers <= 0 {
		b.Workers = DefaultWorkers
	}
	if b.MaxResponseBody <= 0 {
		b.MaxResponseBody = DefaultMaxResponseBody
	}
	if b.Client == nil {
		b.Client, b.ownClient = newClient(b.AttemptTimeout), true
	}
}

// newClient is the default webhook client: bounded connect and total time, no
// redirects.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: DefaultConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   DefaultConnectTimeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close stops every goroutine of the Broker, ends the SSE streams it serves and
// waits for them. Pending deliveries stay in the store for the next start.
func (b *Broker) Close() {
	b.mu.Lock()
	if b.closed || b.cancel == nil {
		b.closed = true
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	if b.ownClient {
		b.Client.CloseIdleConnections()
	}
}

// Emit implements Emitter: it wakes the fan-out and the dispatcher, which
// read the event from the outbox. It never blocks.
func (b *Broker) Emit(Event) {
	b.initWake()
	wake(b.fanWake)
	wake(b.hookWake)
}

// Wake implements Waker: the dispatcher looks at pending
// deliveries now (manual redelivery).
func (b *Broker) Wake() {
	b.initWake()
	wake(b.hookWake)
}

// initWake creates the wake-up channels once, whoever comes first.
func (b *Broker) initWake() {
	b.wakeOnce.Do(func() {
		b.fanWake = make(chan struct{}, 1)
		b.hookWake = make(chan struct{}, 1)
	})
}

// wake signals c without blocking (a pending signal is enough).
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

var (
	_ Emitter = (*Broker)(nil)
	_ Waker   = (*Broker)(nil)
)
