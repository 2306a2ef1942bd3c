package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/roomcast/roomcast/storage"
)

// Webhook request headers.
const (
	HeaderEventID   = "Roomcast-Event-Id"
	HeaderSignature = "Roomcast-Signature"
	HeaderEvent     = "Roomcast-Event"
	HeaderDelivery  = "Roomcast-Delivery-Id"
	HeaderAttempt   = "Roomcast-Delivery-Attempt"
)

// metaCursor is the meta key of the last outbox seq turned into deliveries.
const metaCursor = "webhooks.enqueuedSeq"

// enqueueBatch is how many outbox events one enqueue transaction takes.
const enqueueBatch = 256

// Sign returns the Roomcast-Signature header value of body signed with secret at
// unix time t: "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret string, t int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	ts := strconv.FormatInt(t, 10)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// job is one webhook attempt handed to a worker.
type job struct {
	// ctx ends with the dispatcher that scheduled the job: the Broker's, or this
	// node's webhook leadership. An attempt cut short by it stays pending.
	ctx    context.Context
	d      storage.Delivery
	url    string
	secret string
	body   []byte
	fail   string // non-empty: record a final failure without sending
}

// runDispatch turns outbox events into deliveries and schedules due attempts.
func (b *Broker) runDispatch() {
	defer b.wg.Done()
	if b.Lead == nil {
		b.dispatch(b.ctx)
		return
	}
	for b.ctx.Err() == nil {
		if err := b.Lead(b.ctx, "webhooks", b.dispatch); err != nil {
			if b.ctx.Err() == nil {
				b.Log.Error("webhook delivery stops on this node: leadership lost for good", "err", err)
			}
			return
		}
	}
}

// dispatch is the dispatcher loop; it runs until ctx ends (the Broker closes, or
// this node is no longer the webhook leader of its cluster).
func (b *Broker) dispatch(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	prune := time.NewTicker(b.PruneInterval)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.hookWake:
		case <-timer.C:
		case <-prune.C:
			if err := b.prune(); err != nil {
				b.Log.Error("outbox retention", "err", err)
			}
		}
		if err := b.enqueue(); err != nil {
			b.Log.Error("webhook enqueue", "err", err)
		}
		next, err := b.schedule(ctx)
		if err != nil {
			b.Log.Error("webhook schedule", "err", err)
		}
		wait := b.PollInterval
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(b.Now()), time.Millisecond))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// enqueue creates the deliveries of every outbox event after the cursor.
func (b *Broker) enqueue() error {
	for b.ctx.Err() == nil {
		done := false
		err := b.Store.Update(func(tx *storage.Tx) error {
			var err error
			done, err = b.enqueueTx(tx)
			return err
		})
		if err != nil || done {
			return err
		}
	}
	return nil
}

// enqueueTx is one batch of enqueue; done reports that the outbox is exhausted.
func (b *Broker) enqueueTx(tx *storage.Tx) (done bool, err error) {
	cursor := uint64(0)
	if v := tx.GetMeta(metaCursor); len(v) == 8 {
		cursor = binary.BigEndian.Uint64(v)
	}
	r := resolver{tx: tx, apps: map[uint64]*storage.App{}, rooms: map[uint64]*storage.Room{}, now: b.Now().UTC(),
		window: b.RetryWindow}
	last, n := cursor, 0
	var ds []storage.Delivery
	err = tx.ForEachEventAfter(cursor, func(rec storage.Event) (bool, error) {
		n++
		last = rec.Seq
		ev, err := DecodeEvent(rec)
		if err != nil {
			b.Log.Error("skip undecodable outbox event", "seq", rec.Seq, "err", err)
			return n < enqueueBatch, nil
		}
		more, err := r.destinations(ev)
		ds = append(ds, more...)
		return n < enqueueBatch, err
	})
	if err != nil || last == cursor {
		return true, err
	}
	if err := r.ensureSecrets(); err != nil {
		return false, err
	}
	for i := range ds {
		if err := tx.PutDelivery(&ds[i]); err != nil {
			return false, err
		}
	}
	return n < enqueueBatch, tx.PutMeta(metaCursor, binary.BigEndian.AppendUint64(nil, last))
}

// resolver finds the destinations of events within one transaction.
type resolver struct {
	tx         *storage.Tx
	apps       map[uint64]*storage.App
	rooms      map[uint64]*storage.Room
	allApps    []uint64
	needSecret []uint64
	now        time.Time
	window     time.Duration
}

// app returns app id (cached), nil when it is gone.
func (r *resolver) app(id uint64) (*storage.App, error) {
	if a, ok := r.apps[id]; ok {
		return a, nil
	}
	a, err := r.tx.App(id)
	if errors.Is(err, storage.ErrNotFound) {
		r.apps[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.apps[id] = &a
	return &a, nil
}

// appIDs returns the apps an event concerns (AppID 0: every app).
func (r *resolver) appIDs(appID uint64) ([]uint64, error) {
	if appID != 0 {
		return []uint64{appID}, nil
	}
	if r.allApps == nil {
		r.allApps = []uint64{}
		err := r.tx.ForEachApp(func(a storage.App) error {
			r.allApps = append(r.allApps, a.ID)
			r.apps[a.ID] = &a
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return r.allApps, nil
}

// subscribed reports whether a filter (empty = all) lets event name through.
func subscribed(filter []string, name string) bool {
	return len(filter) == 0 || slices.Contains(filter, name)
}

// destinations returns the new deliveries of ev: the app callback(s) and the room
// webhook that subscribe to it.
func (r *resolver) destinations(ev Event) ([]storage.Delivery, error) {
	base := storage.Delivery{RoomID: ev.RoomID, EventSeq: ev.Seq, EventID: ev.ID, EventName: ev.Name,
		Status: storage.DeliveryPending, CreatedAt: r.now, NextAttemptAt: r.now, ExpiresAt: r.now.Add(r.window)}
	var out []storage.Delivery
	ids, err := r.appIDs(ev.AppID)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		a, err := r.app(id)
		if err != nil {
			return nil, err
		}
		if a != nil && a.CallbackURL != "" && subscribed(a.CallbackEvents, ev.Name) {
			d := base
			d.AppID, d.Kind, d.URL = a.ID, storage.DeliveryAppCallback, a.CallbackURL
			out = append(out, d)
		}
	}
	if ev.RoomID == 0 {
		return out, nil
	}
	room, ok := r.rooms[ev.RoomID]
	if !ok {
		rm, err := r.tx.Room(ev.RoomID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		if err == nil {
			room = &rm
		}
		r.rooms[ev.RoomID] = room
	}
	if room != nil && room.WebhookURL != "" && subscribed(room.WebhookEvents, ev.Name) {
		d := base
		d.AppID, d.Kind, d.URL = room.AppID, storage.DeliveryRoomWebhook, room.WebhookURL
		out = append(out, d)
		if a, err := r.app(room.AppID); err == nil && a != nil && a.CallbackSecret == "" &&
			!slices.Contains(r.needSecret, a.ID) {
			r.needSecret = append(r.needSecret, a.ID)
		}
	}
	return out, nil
}

// ensureSecrets gives a signing secret to apps that receive room webhooks but never
// set a callback (GET /v2/apps/me/callback shows it).
func (r *resolver) ensureSecrets() error {
	for _, id := range r.needSecret {
		a := r.apps[id]
		raw := make([]byte, 32)
		if _, err := crand.Read(raw); err != nil {
			return fmt.Errorf("generate callback secret: %w", err)
		}
		a.CallbackSecret = base64.RawURLEncoding.EncodeToString(raw)
		if err := r.tx.PutApp(a); err != nil {
			return fmt.Errorf("store callback secret of app %d: %w", id, err)
		}
	}
	return nil
}

// schedule hands the due lane heads to the workers and returns the time of the
// next retry (zero if none is waiting).
func (b *Broker) schedule(ctx context.Context) (time.Time, error) {
	now := b.Now()
	var next time.Time
	var jobs []job
	err := b.Store.View(func(tx *storage.Tx) error {
		return tx.ForEachPendingLaneHead(func(d storage.Delivery) (bool, error) {
			if b.isInflight(d.ID) {
				return true, nil
			}
			if d.NextAttemptAt.After(now) {
				if next.IsZero() || d.NextAttemptAt.Before(next) {
					next = d.NextAttemptAt
				}
				return true, nil
			}
			j, err := prepare(tx, d)
			j.ctx = ctx
			jobs = append(jobs, j)
			return len(jobs) < cap(b.jobs), err
		})
	})
	for _, j := range jobs {
		b.mu.Lock()
		b.inflight[j.d.ID] = struct{}{}
		b.mu.Unlock()
		select {
		case b.jobs <- j:
		default: // workers busy: a finishing worker wakes the dispatcher
			b.doneInflight(j.d.ID)
			return next, err
		}
	}
	return next, err
}

// prepare resolves the URL, secret and body of delivery d.
func prepare(tx *storage.Tx, d storage.Delivery) (job, error) {
	j := job{d: d, url: d.URL}
	rec, err := tx.EventBySeq(d.EventSeq)
	if errors.Is(err, storage.ErrNotFound) {
		j.fail = "event no longer in the outbox"
		return j, nil
	}
	if err != nil {
		return j, err
	}
	ev, err := DecodeEvent(rec)
	if err != nil {
		j.fail = "undecodable event"
		return j, nil
	}
	j.body = ev.Webhook
	a, err := tx.App(d.AppID)
	if errors.Is(err, storage.ErrNotFound) {
		j.fail = "app deleted"
		return j, nil
	}
	if err != nil {
		return j, err
	}
	if d.Kind == storage.DeliveryAppCallback {
		j.url = a.CallbackURL
	}
	j.secret = a.CallbackSecret
	switch {
	case j.url == "":
		j.fail = "callback URL removed"
	case j.secret == "":
		j.fail = "app has no callback signing secret"
	}
	return j, nil
}

// isInflight reports whether delivery id is with a worker.
func (b *Broker) isInflight(id uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.inflight[id]
	return ok
}

// doneInflight releases delivery id.
func (b *Broker) doneInflight(id uint64) {
	b.mu.Lock()
	delete(b.inflight, id)
	b.mu.Unlock()
}

// runWorker performs webhook attempts.
func (b *Broker) runWorker() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case j := <-b.jobs:
			b.attempt(j)
			b.doneInflight(j.d.ID)
			wake(b.hookWake)
		}
	}
}

// attempt sends one webhook and records the outcome.
func (b *Broker) attempt(j job) {
	var status int
	var err error
	final := j.fail != ""
	if b.stale(j.d) {
		return
	}
	if final {
		err = errors.New(j.fail)
	} else {
		status, err = b.post(j)
		if j.ctx.Err() != nil {
			// Cut short by Close (sent again after restart) or by the loss of this
			// node's webhook leadership (sent by the next leader): stays pending.
			return
		}
	}
	rerr := b.Store.Update(func(tx *storage.Tx) error {
		d, gerr := tx.Delivery(j.d.ID)
		if gerr != nil {
			return gerr
		}
		now := b.Now().UTC()
		d.Attempts++
		d.LastAttemptAt, d.LastStatusCode, d.URL = now, status, j.url
		d.LastError = ""
		switch {
		case err == nil:
			d.Status, d.DeliveredAt, d.NextAttemptAt = storage.DeliveryDelivered, now, time.Time{}
		default:
			d.LastError = truncate(err.Error(), 300)
			next := now.Add(b.backoff(d.Attempts))
			if final || next.After(d.ExpiresAt) {
				d.Status, d.NextAttemptAt = storage.DeliveryFailed, time.Time{}
			} else {
				d.NextAttemptAt = next
			}
		}
		return tx.PutDelivery(&d)
	})
	b.mu.Lock()
	b.stats.WebhookAttempts++
	if err != nil {
		b.stats.WebhookFailures++
	}
	b.mu.Unlock()
	if rerr != nil {
		b.Log.Error("record webhook attempt", "delivery", j.d.ID, "err", rerr)
	}
	if err != nil {
		b.Log.Debug("webhook attempt failed", "delivery", j.d.ID, "event", j.d.EventName,
			"app", j.d.AppID, "err", err)
	}
}

// stale reports whether d was attempted since the dispatcher read it (its snapshot
// may predate the commit of the previous attempt of the same delivery).
func (b *Broker) stale(d storage.Delivery) bool {
	var cur storage.Delivery
	err := b.Store.View(func(tx *storage.Tx) error {
		var err error
		cur, err = tx.Delivery(d.ID)
		return err
	})
	return err != nil || cur.Status != storage.DeliveryPending || cur.Attempts != d.Attempts
}

// post sends the webhook of j and returns the HTTP status; err is nil only for 2xx.
func (b *Broker) post(j job) (int, error) {
	u, err := url.Parse(j.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, errors.New("callback URL is not an absolute http(s) URL")
	}
	ctx, cancel := context.WithTimeout(j.ctx, b.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(j.body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Roomcast-Webhook/1")
	h.Set(HeaderEventID, j.d.EventID)
	h.Set(HeaderEvent, j.d.EventName)
	h.Set(HeaderDelivery, strconv.FormatUint(j.d.ID, 10))
	h.Set(HeaderAttempt, strconv.Itoa(j.d.Attempts+1))
	h.Set(HeaderSignature, Sign(j.secret, b.Now().Unix(), j.body))
	res, err := b.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may carry credentials
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	defer res.Body.Close()
	head, rerr := io.ReadAll(io.LimitReader(res.Body, b.MaxResponseBody))
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return res.StatusCode, nil
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return res.StatusCode, fmt.Errorf("HTTP %d: redirects are not followed", res.StatusCode)
	case rerr != nil:
		return res.StatusCode, fmt.Errorf("HTTP %d: read body: %w", res.StatusCode, rerr)
	}
	return res.StatusCode, fmt.Errorf("HTTP %d: %s", res.StatusCode, truncate(string(head), 200))
}

// backoff is the delay after the attempt-th failure: RetryBase·2^(attempt-1),
// capped at RetryMax, drawn in [d/2, d].
func (b *Broker) backoff(attempt int) time.Duration {
	d := b.RetryBase
	for i := 1; i < attempt && d < b.RetryMax; i++ {
		d *= 2
	}
	d = min(d, b.RetryMax)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// truncate shortens s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// prune applies Retention to the outbox and the delivery log.
func (b *Broker) prune() error {
	cutoff := b.Now().Add(-b.Retention)
	b.mu.Lock()
	fanned := b.fanned
	b.mu.Unlock()
	return b.Store.Update(func(tx *storage.Tx) error {
		if _, err := tx.DeleteDeliveriesBefore(cutoff); err != nil {
			return err
		}
		limit := fanned + 1
		if v := tx.GetMeta(metaCursor); len(v) == 8 {
			limit = min(limit, binary.BigEndian.Uint64(v)+1)
		} else {
			limit = 0
		}
		low, err := tx.MinPendingEventSeq()
		if err != nil {
			return err
		}
		if low != 0 {
			limit = min(limit, low)
		}
		_, err = tx.PruneEvents(cutoff, limit)
		return err
	})
}
