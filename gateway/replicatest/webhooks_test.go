package replicatest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/webhook"
)

// hookReceiver is the app's webhook endpoint: it verifies signatures and
// counts deliveries by event id. While hold is set, requests block until
// it is closed (a delivery in flight).
type hookReceiver struct {
	t   *testing.T
	key []byte
	srv *httptest.Server

	mu     sync.Mutex
	byID   map[string]int
	total  int
	hold   chan struct{}
	inHold chan struct{} // receives once a request is held
}

func newHookReceiver(t *testing.T) (*hookReceiver, string) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	r := &hookReceiver{t: t, key: key, byID: map[string]int{}, inHold: make(chan struct{}, 16)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id := req.Header.Get("webhook-id")
		if err := webhook.Verify(r.key, id, req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature"), body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.mu.Lock()
		r.byID[id]++
		r.total++
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			r.inHold <- struct{}{}
			<-hold
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r, webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

func (r *hookReceiver) counts() (byID map[string]int, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	byID = make(map[string]int, len(r.byID))
	for k, v := range r.byID {
		byID[k] = v
	}
	return byID, r.total
}

// withWebhooks makes the cluster's replicas send project dev's events to
// r, through a configuration file, and returns the endpoint as configured.
func (c *cluster) withWebhooks(r *hookReceiver, secret string) webhook.Endpoint {
	c.t.Helper()
	cfg := fmt.Sprintf(`projects:
  - id: dev
    keys: [project.pub.pem]
    webhooks:
      - url: %s/hooks
        secret: ${HOOK_SECRET}
webhooks:
  retryHorizon: 1h
  attemptTimeout: 2s
`, r.srv.URL)
	path := filepath.Join(c.dir, "plugboard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.env = append(c.env, "HOOK_SECRET="+secret, "PLUGBOARD_CONFIG="+path)
	return webhook.Endpoint{ProjectID: "dev", URL: r.srv.URL + "/hooks", Secret: r.key}
}

// enqueuer is a store whose writes enqueue events for endpoint, as a
// replica's do; the replicas deliver them.
func (c *cluster) enqueuer(ep webhook.Endpoint) store.Store {
	c.t.Helper()
	st, err := store.OpenPostgres(context.Background(), c.dsn, c.keyring)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = st.Close() })
	if _, err := webhook.NewPostgres(context.Background(), st, webhook.Config{Endpoints: []webhook.Endpoint{ep}}); err != nil {
		c.t.Fatal(err)
	}
	return st
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWebhookSurvivesKill9: the replica delivering an event is killed
// (SIGKILL) while the receiver holds the request; after a replica starts
// again, the event is delivered, with the same id.
func TestWebhookSurvivesKill9(t *testing.T) {
	c := newCluster(t)
	r, secret := newHookReceiver(t)
	ep := c.withWebhooks(r, secret)
	hold := make(chan struct{})
	r.mu.Lock()
	r.hold = hold
	r.mu.Unlock()
	first := c.start()
	st := c.enqueuer(ep)
	if err := st.Create(context.Background(), &connection.Connection{ProjectID: "dev", UserID: "u1", IntegrationID: "fakeoauth",
		Credential: connection.Credential{AccessToken: "at"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.inHold:
	case <-time.After(30 * time.Second):
		t.Fatal("the event never reached the receiver")
	}
	if err := first.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait(10 * time.Second)
	r.mu.Lock()
	r.hold = nil
	r.mu.Unlock()
	close(hold)

	c.start()
	// River rescues the delivery once it has been "running" longer than
	// attemptTimeout + 20s, checked every 30s.
	waitFor(t, 90*time.Second, "the event delivered again after the restart", func() bool {
		_, total := r.counts()
		return total >= 2
	})
	byID, _ := r.counts()
	if len(byID) != 1 {
		t.Errorf("receiver saw event ids %v, want one id (delivered twice)", byID)
	}
}

// TestWebhooksThreeReplicasOnce: three replicas deliver 1,000 events,
// each exactly once in the absence of faults, and their metrics add up.
func TestWebhooksThreeReplicasOnce(t *testing.T) {
	const events = 1000
	c := newCluster(t)
	r, secret := newHookReceiver(t)
	ep := c.withWebhooks(r, secret)
	replicas := []*replica{c.start(), c.start(), c.start()}
	st := c.enqueuer(ep)
	for i := range events {
		if err := st.Create(context.Background(), &connection.Connection{ProjectID: "dev", UserID: "u" + strconv.Itoa(i), IntegrationID: "fakeoauth",
			Credential: connection.Credential{AccessToken: "at"}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 120*time.Second, "1,000 events delivered", func() bool {
		byID, _ := r.counts()
		return len(byID) == events
	})
	time.Sleep(time.Second) // a duplicate would arrive now
	byID, total := r.counts()
	if total != events {
		dups := 0
		for _, n := range byID {
			if n > 1 {
				dups++
			}
		}
		t.Errorf("%d deliveries of %d events (%d delivered more than once)", total, len(byID), dups)
	}
	delivered := regexp.MustCompile(`(?m)^plugboard_webhook_deliveries_total\{result="delivered"\} (\d+)$`)
	sum, busy := 0, 0
	for _, rep := range replicas {
		resp, err := http.Get(rep.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := delivered.FindSubmatch(body)
		if m == nil {
			t.Fatalf("no delivered counter in %s/metrics", rep.base)
		}
		n, _ := strconv.Atoi(string(m[1]))
		sum += n
		if n > 0 {
			busy++
		}
		if !regexp.MustCompile(`(?m)^plugboard_webhook_queue_depth 0$`).Match(body) {
			t.Errorf("replica %s: queue depth not 0 after delivery", rep.base)
		}
	}
	if sum != events {
		t.Errorf("replicas counted %d deliveries, want %d", sum, events)
	}
	t.Logf("%d of 3 replicas delivered", busy)
}
