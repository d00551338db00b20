package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/riverqueue/river"
)

// deliveryKind is the River job kind of one event's delivery to one endpoint.
const deliveryKind = "plugboard_webhook_delivery"

// queueName is the River queue deliveries run in.
const queueName = "webhooks"

// maxAttempts is River's cap, far above what any horizon needs: the
// horizon, not the attempt count, ends retries.
const maxAttempts = 10000

// deliveryArgs is a delivery job. Body is the exact event sent on every
// attempt; the signing secret is looked up by project and URL when it is
// sent, so that no secret is ever written to the queue.
type deliveryArgs struct {
	EventID   string          `json:"event_id"`
	Type      string          `json:"type"`
	ProjectID string          `json:"project_id"`
	URL       string          `json:"url"`
	Body      json.RawMessage `json:"body"`
}

func (deliveryArgs) Kind() string { return deliveryKind }

func (deliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, MaxAttempts: maxAttempts}
}

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	s *Service
}

// Timeout leaves the HTTP client's own timeout room to fire first.
func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration {
	return w.s.cfg.AttemptTimeout + 5*time.Second
}

// NextRetry: exponential backoff from FirstRetry, capped at
// MaxRetryDelay, with up to half of it taken off at random (so that
// retries to an endpoint that was down spread out), and never past the
// horizon, where the last attempt is made.
func (w *deliveryWorker) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	cfg := w.s.cfg
	d := cfg.FirstRetry
	for i := 1; i < job.Attempt && d < cfg.MaxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, cfg.MaxRetryDelay)
	d -= time.Duration(rand.Int64N(int64(d/2) + 1))
	next := cfg.Now().Add(d)
	if deadline := job.CreatedAt.Add(cfg.RetryHorizon); next.After(deadline) {
		next = deadline
	}
	return next
}

// Work makes one attempt. A failure is retried until the horizon; then,
// or when retrying cannot help (the endpoint was removed from the
// configuration, the egress guard refuses its address), the job is
// cancelled, which is how it shows in the failed list.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	s := w.s
	ep, ok := s.endpoint(job.Args.ProjectID, job.Args.URL)
	if !ok {
		s.count(resultGivenUp)
		return river.JobCancel(errors.New("the endpoint is no longer configured for this project"))
	}
	err := s.send(ctx, ep, job.Args)
	if err == nil {
		s.count(resultDelivered)
		return nil
	}
	s.count(resultFailed)
	log := s.cfg.Log.With("event", job.Args.EventID, "type", job.Args.Type, "project", job.Args.ProjectID, "url", job.Args.URL, "attempt", job.Attempt)
	if egress.IsRefused(err) {
		s.count(resultGivenUp)
		log.Error("webhook delivery refused by the egress guard; allow the address with --egress-allow, then redeliver", "error", err.Error())
		return river.JobCancel(err)
	}
	if !s.cfg.Now().Before(job.CreatedAt.Add(s.cfg.RetryHorizon)) {
		s.count(resultGivenUp)
		log.Error("webhook delivery given up: the retry horizon is over; see GET /admin/v1/webhooks/deliveries?status=failed", "error", err.Error())
		return river.JobCancel(err)
	}
	log.Warn("webhook delivery failed; will retry", "error", err.Error())
	return err
}

// send POSTs the event, signed, and succeeds on a 2xx answer.
// Redirects are not followed: a 3xx is a failure.
func (s *Service) send(ctx context.Context, ep Endpoint, a deliveryArgs) error {
	ctx, cancel := context.WithTimeout(egress.WithIntegration(ctx, "webhooks"), s.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(a.Body))
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "plugboard-webhooks")
	req.Header.Set("webhook-id", a.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(ep.Secret, a.EventID, now, a.Body))
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("endpoint answered %d (redirects are not followed; configure the final URL)", resp.StatusCode)
	default:
		return fmt.Errorf("endpoint answered %d: %.200q", resp.StatusCode, excerpt)
	}
}

// newHTTPClient dials through guard and never follows redirects.
func newHTTPClient(guard *egress.Guard) *http.Client {
	return &http.Client{
		Transport:     guard.NewTransport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
