package gateway

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/admin"
	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/gateway/webhook"
)

// hookSink is an app's webhook endpoint that verifies signatures and
// answers with status (204 when 0).
type hookSink struct {
	key    []byte
	mu     sync.Mutex
	events []webhook.Event
	status int
}

func startHookSink(t *testing.T) (*hookSink, string) {
	s := &hookSink{key: make([]byte, 32)}
	_, _ = rand.Read(s.key)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(s.key, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var ev webhook.Event
		_ = json.Unmarshal(body, &ev)
		s.mu.Lock()
		s.events = append(s.events, ev)
		status := s.status
		s.mu.Unlock()
		if status == 0 {
			status = http.StatusNoContent
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL + "/hooks"
}

func (s *hookSink) ofType(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func (s *hookSink) setStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
}

func withHooks(sink *hookSink, url string, horizon time.Duration) func(*Config) {
	return func(c *Config) {
		c.Webhooks = &webhook.Config{
			Endpoints:  []webhook.Endpoint{{ProjectID: "dev", URL: url, Secret: sink.key}},
			FirstRetry: 50 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond,
			RetryHorizon: horizon,
		}
	}
}

// TestWebhookRevokedRefreshTokenOneEvent: a provider refuses the refresh
// token; concurrent proxied calls all end in needs_reconnect, and the app
// hears of it once.
func TestWebhookRevokedRefreshTokenOneEvent(t *testing.T) {
	sink, url := startHookSink(t)
	e := startProxyEnvWith(t, withHooks(sink, url, time.Hour))
	conn := e.connectOAuth("hank", -time.Minute)
	e.provider.RotateRefreshTokens = true
	form := strings.NewReader("grant_type=refresh_token&refresh_token=" + conn.Credential.RefreshToken + "&client_id=" + e.provider.ClientID + "&client_secret=" + e.provider.ClientSecret)
	resp, err := http.Post(e.provider.URL+"/oauth/token", "application/x-www-form-urlencoded", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, st := range e.concurrentGets(8, e.token("hank"), "/projects/dev/sdk/proxy/custom/fakeoauth/me") {
		if st != 403 {
			t.Errorf("proxied call: %d, want 403 needs_reconnect", st)
		}
	}
	testfix.Eventually(t, "connection.refresh_failed delivered", func() bool { return sink.ofType(webhook.ConnectionRefreshFailed) == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := sink.ofType(webhook.ConnectionRefreshFailed); n != 1 {
		t.Errorf("%d refresh_failed events, want 1", n)
	}
	if n := sink.ofType(webhook.ConnectionCreated); n != 1 {
		t.Errorf("%d created events, want 1", n)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, ev := range sink.events {
		if ev.Type == webhook.ConnectionRefreshFailed && (!ev.Data.NeedsReconnect || !strings.Contains(ev.Data.Error, "invalid_grant") || ev.Data.CredentialID != conn.ID) {
			t.Errorf("refresh_failed event %+v", ev)
		}
	}
}

// TestWebhookAdminFailedListAndRedeliver: the admin API lists what could
// not be delivered and redelivers it; the metrics count the results.
func TestWebhookAdminFailedListAndRedeliver(t *testing.T) {
	sink, url := startHookSink(t)
	sink.setStatus(http.StatusInternalServerError)
	e := startProxyEnvWith(t, withHooks(sink, url, 400*time.Millisecond))
	e.connectKey("ivy", "fakekey", "key-ivy")
	var page admin.DeliveryPage
	testfix.Eventually(t, "the delivery listed as failed", func() bool {
		r := e.adminDo("GET", "/admin/v1/webhooks/deliveries?status=failed")
		if r.status != 200 {
			t.Fatalf("GET deliveries: %d %s", r.status, r.body)
		}
		page = admin.DeliveryPage{}
		_ = json.Unmarshal([]byte(r.body), &page)
		return len(page.Deliveries) == 1
	})
	d := page.Deliveries[0]
	if d.Type != webhook.ConnectionCreated || d.Status != webhook.StatusFailed || !strings.Contains(d.LastError, "500") || d.URL != url {
		t.Errorf("failed delivery %+v", d)
	}
	if r := e.adminDo("GET", "/admin/v1/webhooks/deliveries?status=lost"); r.status != 400 {
		t.Errorf("status=lost: %d, want 400", r.status)
	}
	if r := e.adminDo("POST", "/admin/v1/webhooks/deliveries/999999/redeliver"); r.status != 404 {
		t.Errorf("redeliver unknown: %d, want 404", r.status)
	}
	if r := e.do("POST", "/admin/v1/webhooks/deliveries/1/redeliver", "", nil, nil); r.status != 401 {
		t.Errorf("redeliver without the admin token: %d, want 401", r.status)
	}
	before := sink.ofType(webhook.ConnectionCreated)
	sink.setStatus(0)
	if r := e.adminDo("POST", "/admin/v1/webhooks/deliveries/"+strconv.FormatInt(d.ID, 10)+"/redeliver"); r.status != 202 {
		t.Fatalf("redeliver: %d %s", r.status, r.body)
	}
	testfix.Eventually(t, "redelivered", func() bool { return sink.ofType(webhook.ConnectionCreated) == before+1 })
	testfix.Eventually(t, "listed as delivered", func() bool {
		r := e.adminDo("GET", "/admin/v1/webhooks/deliveries?status=delivered")
		return strings.Contains(r.body, d.EventID)
	})
	m := e.do("GET", "/metrics", "", nil, nil).body
	for _, want := range []string{`plugboard_webhook_deliveries_total{result="delivered"} 1`, `plugboard_webhook_deliveries_total{result="given_up"} 1`,
		"plugboard_webhook_queue_depth 0", "plugboard_webhook_oldest_undelivered_age_seconds 0"} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}
