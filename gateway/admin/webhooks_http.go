package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/webhook"
)

// Webhooks is what the admin API needs of webhook delivery.
type Webhooks interface {
	List(ctx context.Context, status string, after int64, limit int) ([]webhook.Delivery, error)
	Redeliver(ctx context.Context, id int64) (webhook.Delivery, error)
}

// DeliveryPage is a page of webhook deliveries; Next is the after= of the
// next page, 0 at the end.
type DeliveryPage struct {
	Deliveries []webhook.Delivery `json:"deliveries"`
	Next       int64              `json:"next,omitempty"`
}

// listDeliveries: GET /admin/v1/webhooks/deliveries?status=failed|pending|delivered&after=<id>&limit=<n>.
func (o *Ops) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := q.Get("status")
	if status == "" {
		status = webhook.StatusFailed
	}
	after, err1 := optionalInt(q.Get("after"), 0)
	limit, err2 := optionalInt(q.Get("limit"), 100)
	if err := errors.Join(err1, err2); err != nil || limit < 1 || limit > 1000 || after < 0 {
		apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BadRequest, "after must be a delivery id and limit a number from 1 to 1000"))
		return
	}
	ds, err := o.Webhooks.List(r.Context(), status, after, int(limit))
	if err != nil {
		if status != webhook.StatusFailed && status != webhook.StatusPending && status != webhook.StatusDelivered {
			apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BadRequest, "status must be failed, pending or delivered"))
			return
		}
		o.log().Error("admin API: listing webhook deliveries failed", "error", err.Error())
		apierror.Write(w, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "listing webhook deliveries failed; see the gateway's log"))
		return
	}
	page := DeliveryPage{Deliveries: ds}
	if len(ds) == int(limit) {
		page.Next = ds[len(ds)-1].ID
	}
	apierror.JSON(w, http.StatusOK, page)
}

// redeliver: POST /admin/v1/webhooks/deliveries/{id}/redeliver makes a
// failed delivery's event be sent again now (same id and body).
func (o *Ops) redeliver(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.NotFound, "no webhook delivery has that id"))
		return
	}
	d, err := o.Webhooks.Redeliver(r.Context(), id)
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.NotFound, "no webhook delivery has that id"))
	case err != nil:
		o.log().Error("admin API: redelivering a webhook failed", "error", err.Error())
		apierror.Write(w, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "redelivering failed; see the gateway's log"))
	default:
		apierror.JSON(w, http.StatusAccepted, d)
	}
}

func optionalInt(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseInt(s, 10, 64)
}
