package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// Delivery log errors.
var (
	ErrDeliveryNotFound = control.NewAPIError(http.StatusNotFound, "WEBHOOK_DELIVERY_NOT_FOUND", "webhook delivery not found")
	ErrDeliveryPending  = control.NewAPIError(http.StatusConflict, "WEBHOOK_DELIVERY_PENDING", "the delivery is still pending; wait for it to finish")
	ErrEventExpired     = control.NewAPIError(http.StatusGone, "WEBHOOK_EVENT_EXPIRED", "the event is no longer kept in the outbox")
)

// deliveryJSON is one entry of the app's webhook delivery log.
type deliveryJSON struct {
	ID             uint64  `json:"id"`
	EventID        string  `json:"eventId"`
	Event          string  `json:"event"`
	EventSeq       uint64  `json:"eventSeq"`
	Destination    string  `json:"destination"`
	URL            string  `json:"url"`
	VideoRoomID    *uint64 `json:"videoRoomId"`
	Status         string  `json:"status"`
	Attempts       int     `json:"attempts"`
	LastStatusCode *int    `json:"lastStatusCode"`
	LastError      *string `json:"lastError"`
	RedeliveryOf   *uint64 `json:"redeliveryOf"`
	CreatedAt      *string `json:"createdAt"`
	LastAttemptAt  *string `json:"lastAttemptAt"`
	NextAttemptAt  *string `json:"nextAttemptAt"`
	DeliveredAt    *string `json:"deliveredAt"`
	ExpiresAt      *string `json:"expiresAt"`
}

// newDeliveryJSON converts a delivery record.
func newDeliveryJSON(d storage.Delivery) deliveryJSON {
	optID := func(v uint64) *uint64 {
		if v == 0 {
			return nil
		}
		return &v
	}
	j := deliveryJSON{
		ID: d.ID, EventID: d.EventID, Event: d.EventName, EventSeq: d.EventSeq, Destination: d.Kind,
		URL: d.URL, VideoRoomID: optID(d.RoomID), Status: d.Status, Attempts: d.Attempts,
		LastError: control.Opt(d.LastError), RedeliveryOf: optID(d.RedeliveryOf), CreatedAt: control.OptTime(d.CreatedAt),
		LastAttemptAt: control.OptTime(d.LastAttemptAt), DeliveredAt: control.OptTime(d.DeliveredAt), ExpiresAt: control.OptTime(d.ExpiresAt),
	}
	if d.LastStatusCode != 0 {
		code := d.LastStatusCode
		j.LastStatusCode = &code
	}
	if d.Status == storage.DeliveryPending {
		j.NextAttemptAt = control.OptTime(d.NextAttemptAt)
	}
	return j
}

// onCallbackDeliveriesList is GET /v2/apps/me/callback/deliveries: the app's
// delivery log, newest first, optionally filtered by ?status=.
func (h *callbackHandlers) onCallbackDeliveriesList(ec echo.Context) error {
	q, err := request.ParseListQuery(ec)
	if err != nil {
		return err
	}
	status := ec.QueryParam("status")
	switch status {
	case "", storage.DeliveryPending, storage.DeliveryDelivered, storage.DeliveryFailed:
	default:
		return control.ErrInvalidRequest.WithMessage("query status: must be PENDING, DELIVERED or FAILED")
	}
	appID := appOf(ec).ID
	var content []deliveryJSON
	total := 0
	err = h.c.Store.View(func(tx *storage.Tx) error {
		return tx.ForEachDeliveryOfApp(appID, true, func(d storage.Delivery) (bool, error) {
			if status != "" && d.Status != status {
				return true, nil
			}
			if total >= q.Page*q.PageSize && len(content) < q.PageSize {
				content = append(content, newDeliveryJSON(d))
			}
			total++
			return true, nil
		})
	})
	if err != nil {
		return fmt.Errorf("list deliveries: %w", err)
	}
	return ec.JSON(http.StatusOK, newPage(content, q.Page, q.PageSize, total))
}

// onCallbackDeliveryRedeliver is POST /v2/apps/me/callback/deliveries/{id}/redeliver:
// a new PENDING delivery of the same event to the same destination (same
// Roomcast-Event-Id), queued behind the pending ones of its lane.
func (h *callbackHandlers) onCallbackDeliveryRedeliver(ec echo.Context) error {
	id, err := strconv.ParseUint(ec.Param("id"), 10, 64)
	if err != nil || id == 0 {
		return ErrDeliveryNotFound.WithMessage("webhook delivery %q not found", ec.Param("id"))
	}
	appID := appOf(ec).ID
	var nd storage.Delivery
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		d, err := tx.Delivery(id)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && d.AppID != appID) {
			return ErrDeliveryNotFound.WithMessage("webhook delivery %d not found", id)
		}
		if err != nil {
			return fmt.Errorf("read delivery %d: %w", id, err)
		}
		if d.Status == storage.DeliveryPending {
			return ErrDeliveryPending
		}
		if _, err := tx.EventBySeq(d.EventSeq); errors.Is(err, storage.ErrNotFound) {
			return ErrEventExpired
		} else if err != nil {
			return fmt.Errorf("read event %d: %w", d.EventSeq, err)
		}
		nd = events.NewRedelivery(d, h.c.Time().UTC())
		return tx.PutDelivery(&nd)
	})
	if err != nil {
		return err
	}
	if w, ok := h.c.Events.(events.Waker); ok {
		w.Wake()
	}
	return ec.JSON(http.StatusAccepted, newDeliveryJSON(nd))
}
