package webhook_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/store/storetest"
	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/gateway/webhook"
	"github.com/riverqueue/river"
)

// receiver is the app's webhook endpoint: it verifies every request's
// signature as a Standard Webhooks library would, and answers with the
// status fail returns for the n-th request (1-based).
type receiver struct {
	t      *testing.T
	secret string
	key    []byte
	srv    *httptest.Server

	mu   sync.Mutex
	got  []received
	fail func(n int) int // 0: 204
}

type received struct {
	id    string
	event webhook.Event
	body  string
}

func newReceiver(t *testing.T) *receiver {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	r := &receiver{t: t, secret: webhook.SecretPrefix + base64.StdEncoding.EncodeToString(raw), key: raw}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	if err := webhook.Verify(r.key, id, ts, sig, body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("receiver: signature does not verify: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		r.t.Errorf("receiver: Content-Type %q", ct)
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("receiver: body %s: %v", body, err)
	}
	if ev.ID != id {
		r.t.Errorf("receiver: body id %q, webhook-id %q", ev.ID, id)
	}
	r.mu.Lock()
	r.got = append(r.got, received{id: id, event: ev, body: string(body)})
	n := len(r.got)
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if status := fail(n); status != 0 {
			w.WriteHeader(status)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) setFail(f func(n int) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

func (r *receiver) endpoint(t *testing.T, project string, events ...string) webhook.Endpoint {
	key, err := webhook.ParseSecret(r.secret)
	if err != nil {
		t.Fatal(err)
	}
	return webhook.Endpoint{ProjectID: project, URL: r.srv.URL + "/hooks", Secret: key, Events: events}
}

// loopbackAllowed is --egress-allow 127.0.0.1/32: the receiver runs on loopback.
func loopbackAllowed() *egress.Guard {
	return &egress.Guard{Policy: egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}
}

// fast is a configuration whose retries take milliseconds.
func fast(eps ...webhook.Endpoint) webhook.Config {
	return webhook.Config{Endpoints: eps, Guard: loopbackAllowed(), FirstRetry: 50 * time.Millisecond,
		MaxRetryDelay: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond, AttemptTimeout: 2 * time.Second}
}

type backend struct {
	name string
	open func(t testing.TB, cfg webhook.Config) (store.Store, *webhook.Service)
}

func backends() []backend {
	return []backend{{"SQLite", openSQLite}, {"PostgreSQL", openPostgres}}
}

func openSQLite(t testing.TB, cfg webhook.Config) (store.Store, *webhook.Service) {
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "plugboard.db"), storetest.Keyring(t, storetest.Key(t, "k1")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := webhook.NewSQLite(t.Context(), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	start(t, svc)
	return st, svc
}

func openPostgres(t testing.TB, cfg webhook.Config) (store.Store, *webhook.Service) {
	st, err := store.OpenPostgres(t.Context(), postgresDSN(t), storetest.Keyring(t, storetest.Key(t, "k1")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := webhook.NewPostgres(t.Context(), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	start(t, svc)
	return st, svc
}

func start(t testing.TB, svc *webhook.Service) {
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
}

// postgresDSN makes a schema of the test's own in PLUGBOARD_TEST_POSTGRES.
func postgresDSN(t testing.TB) string {
	base := os.Getenv("PLUGBOARD_TEST_POSTGRES")
	if base == "" {
		t.Skip("PLUGBOARD_TEST_POSTGRES not set (eval \"$(.ci/postgres.sh start)\")")
	}
	schema := "wh_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if len(schema) > 50 {
		schema = schema[:50]
	}
	schema += "_" + strings.ToLower(rand.Text()[:6])
	exec := func(sql string) {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE SCHEMA " + pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() { exec("DROP SCHEMA " + pgx.Identifier{schema}.Sanitize() + " CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func newConn(project, user string) *connection.Connection {
	return &connection.Connection{ProjectID: project, UserID: user, IntegrationID: "github",
		Credential: connection.Credential{AccessToken: "secret-access-token", RefreshToken: "secret-refresh-token"}}
}

// TestDeliverLifecycle: created, refresh_failed (with the provider's
// error), reconnected and deleted reach a real receiver, signed, in that
// order, with every field and without a secret; another project's
// endpoint and an endpoint not subscribed to a type get nothing.
func TestDeliverLifecycle(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			all, onlyDeleted, other := newReceiver(t), newReceiver(t), newReceiver(t)
			st, _ := b.open(t, fast(all.endpoint(t, "p1"), onlyDeleted.endpoint(t, "p1", webhook.ConnectionDeleted), other.endpoint(t, "p2")))
			ctx := t.Context()
			c := newConn("p1", "u1")
			if err := st.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			testfix.Eventually(t, "connection.created delivered", func() bool { return len(all.received()) == 1 })
			if _, err := st.WithLock(ctx, c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
				next := *cur
				next.Status, next.LastError = connection.StatusNeedsReconnect, `token endpoint: invalid_grant: "refresh token revoked"`
				return &next, nil
			}); err != nil {
				t.Fatal(err)
			}
			testfix.Eventually(t, "connection.refresh_failed delivered", func() bool { return len(all.received()) == 2 })
			cur, err := st.Get(ctx, "p1", "u1", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			cur.Credential.AccessToken, cur.Status, cur.LastError = "secret-new-token", connection.StatusValid, ""
			if err := st.Update(ctx, cur); err != nil {
				t.Fatal(err)
			}
			testfix.Eventually(t, "connection.reconnected delivered", func() bool { return len(all.received()) == 3 })
			if err := st.Delete(ctx, "p1", "u1", c.ID); err != nil {
				t.Fatal(err)
			}
			testfix.Eventually(t, "connection.deleted delivered", func() bool { return len(all.received()) == 4 })
			testfix.Eventually(t, "connection.deleted delivered to the deleted-only endpoint", func() bool { return len(onlyDeleted.received()) == 1 })

			got := all.received()
			wantTypes := []string{webhook.ConnectionCreated, webhook.ConnectionRefreshFailed, webhook.ConnectionReconnected, webhook.ConnectionDeleted}
			wantStatus := []string{"valid", "needs_reconnect", "valid", "valid"}
			ids := map[string]bool{}
			for i, r := range got {
				e := r.event
				if e.Type != wantTypes[i] || e.Data.Status != wantStatus[i] {
					t.Errorf("event %d: type %s status %s, want %s %s", i, e.Type, e.Data.Status, wantTypes[i], wantStatus[i])
				}
				if e.Data.ProjectID != "p1" || e.Data.UserID != "u1" || e.Data.CredentialID != c.ID ||
					e.Data.Integration != (webhook.Integration{ID: "github", Type: "custom.github"}) {
					t.Errorf("event %d: data %+v", i, e.Data)
				}
				if !strings.HasPrefix(e.ID, "msg_") || ids[e.ID] {
					t.Errorf("event %d: id %q not a new msg_ id", i, e.ID)
				}
				ids[e.ID] = true
				if time.Since(e.Timestamp) > time.Minute || e.Timestamp.IsZero() {
					t.Errorf("event %d: timestamp %v", i, e.Timestamp)
				}
				if strings.Contains(r.body, "secret-") {
					t.Errorf("event %d carries a secret: %s", i, r.body)
				}
			}
			if f := got[1].event.Data; !f.NeedsReconnect || !strings.Contains(f.Error, "invalid_grant") {
				t.Errorf("refresh_failed: needsReconnect %v error %q", f.NeedsReconnect, f.Error)
			}
			if d := onlyDeleted.received(); d[0].event.Type != webhook.ConnectionDeleted || d[0].id != got[3].id {
				t.Errorf("deleted-only endpoint got %s %s, want the deleted event %s", d[0].event.Type, d[0].id, got[3].id)
			}
			time.Sleep(200 * time.Millisecond)
			if n := len(other.received()); n != 0 {
				t.Errorf("another project's endpoint got %d events", n)
			}
			if n := len(onlyDeleted.received()); n != 1 {
				t.Errorf("deleted-only endpoint got %d events", n)
			}
		})
	}
}

// TestRetriesKeepTheID: a receiver failing N times then succeeding gets
// the event N+1 times, always with the same id and body.
func TestRetriesKeepTheID(t *testing.T) {
	const failures = 3
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			r := newReceiver(t)
			r.setFail(func(n int) int {
				if n <= failures {
					return []int{500, 503, 302}[n-1]
				}
				return 0
			})
			st, svc := b.open(t, fast(r.endpoint(t, "p1")))
			if err := st.Create(t.Context(), newConn("p1", "u1")); err != nil {
				t.Fatal(err)
			}
			testfix.Eventually(t, "delivered after 3 failures", func() bool {
				d, _ := svc.List(t.Context(), webhook.StatusDelivered, 0, 10)
				return len(d) == 1
			})
			time.Sleep(300 * time.Millisecond) // nothing more comes
			got := r.received()
			if len(got) != failures+1 {
				t.Fatalf("receiver got %d requests, want %d", len(got), failures+1)
			}
			for _, g := range got[1:] {
				if g.id != got[0].id || g.body != got[0].body {
					t.Errorf("retry id %s body %s, want %s %s", g.id, g.body, got[0].id, got[0].body)
				}
			}
			d, _ := svc.List(t.Context(), webhook.StatusDelivered, 0, 10)
			if d[0].Attempts != failures+1 || d[0].EventID != got[0].id {
				t.Errorf("delivery %+v", d[0])
			}
		})
	}
}

// TestHorizonThenRedeliver: a receiver down for longer than the retry
// horizon leaves the delivery in the failed list, with its last error;
// redelivering it once the receiver is back delivers the same event.
func TestHorizonThenRedeliver(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			r := newReceiver(t)
			r.setFail(func(int) int { return http.StatusServiceUnavailable })
			cfg := fast(r.endpoint(t, "p1"))
			cfg.RetryHorizon = 600 * time.Millisecond
			st, svc := b.open(t, cfg)
			if err := st.Create(t.Context(), newConn("p1", "u1")); err != nil {
				t.Fatal(err)
			}
			var failed []webhook.Delivery
			testfix.Eventually(t, "the delivery is failed after the horizon", func() bool {
				failed, _ = svc.List(t.Context(), webhook.StatusFailed, 0, 10)
				return len(failed) == 1
			})
			f := failed[0]
			if f.Attempts < 2 || !strings.Contains(f.LastError, "503") || f.Type != webhook.ConnectionCreated || f.ProjectID != "p1" {
				t.Errorf("failed delivery %+v", f)
			}
			if p, _ := svc.List(t.Context(), webhook.StatusPending, 0, 10); len(p) != 0 {
				t.Errorf("still pending: %+v", p)
			}
			before := len(r.received())
			r.setFail(nil)
			if _, err := svc.Redeliver(t.Context(), f.ID); err != nil {
				t.Fatal(err)
			}
			testfix.Eventually(t, "redelivered", func() bool { return len(r.received()) == before+1 })
			if got := r.received(); got[before].id != f.EventID {
				t.Errorf("redelivered id %s, want %s", got[before].id, f.EventID)
			}
			testfix.Eventually(t, "no longer failed", func() bool {
				failed, _ = svc.List(t.Context(), webhook.StatusFailed, 0, 10)
				return len(failed) == 0
			})
			if _, err := svc.Redeliver(t.Context(), 987654); !errors.Is(err, webhook.ErrNotFound) {
				t.Errorf("Redeliver(unknown): %v, want ErrNotFound", err)
			}
		})
	}
}

// TestRolledBackChangeEnqueuesNothing: the event is inserted in the
// write's transaction, so a write that rolls back after the event was
// enqueued leaves no event behind.
func TestRolledBackChangeEnqueuesNothing(t *testing.T) {
	r := newReceiver(t)
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "plugboard.db"), storetest.Keyring(t, storetest.Key(t, "k1")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := webhook.NewSQLite(t.Context(), st, fast(r.endpoint(t, "p1")))
	if err != nil {
		t.Fatal(err)
	}
	start(t, svc)
	boom := errors.New("the write fails after the event was enqueued")
	st.SetOutbox(func(ctx context.Context, tx *sql.Tx, ch store.Change) error {
		if err := svc.EnqueueSQLite(ctx, tx, ch); err != nil {
			return err
		}
		return boom
	})
	if err := st.Create(t.Context(), newConn("p1", "u1")); !errors.Is(err, boom) {
		t.Fatalf("Create: %v, want %v", err, boom)
	}
	time.Sleep(300 * time.Millisecond)
	for _, status := range []string{webhook.StatusPending, webhook.StatusDelivered, webhook.StatusFailed} {
		if d, _ := svc.List(t.Context(), status, 0, 10); len(d) != 0 {
			t.Errorf("%s deliveries after a rolled-back write: %+v", status, d)
		}
	}
	if n := len(r.received()); n != 0 {
		t.Errorf("receiver got %d events of a rolled-back write", n)
	}
	st.SetOutbox(svc.EnqueueSQLite)
	if err := st.Create(t.Context(), newConn("p1", "u1")); err != nil {
		t.Fatal(err)
	}
	testfix.Eventually(t, "the committed write's event is delivered", func() bool { return len(r.received()) == 1 })
}

// TestEgressRefusesLoopback: without --egress-allow, a webhook URL on
// loopback is refused by the egress guard; the delivery is failed at once
// (retrying cannot help) and says why.
func TestEgressRefusesLoopback(t *testing.T) {
	r := newReceiver(t)
	cfg := fast(r.endpoint(t, "p1"))
	cfg.Guard = &egress.Guard{} // the default policy
	st, svc := openSQLite(t, cfg)
	if err := st.Create(t.Context(), newConn("p1", "u1")); err != nil {
		t.Fatal(err)
	}
	var failed []webhook.Delivery
	testfix.Eventually(t, "the delivery is failed", func() bool {
		failed, _ = svc.List(t.Context(), webhook.StatusFailed, 0, 10)
		return len(failed) == 1
	})
	if !strings.Contains(failed[0].LastError, "egress") && !strings.Contains(failed[0].LastError, "loopback") {
		t.Errorf("last error %q does not say the egress guard refused", failed[0].LastError)
	}
	if failed[0].Attempts != 1 {
		t.Errorf("%d attempts, want 1", failed[0].Attempts)
	}
	if n := len(r.received()); n != 0 {
		t.Errorf("receiver got %d requests through a refusing guard", n)
	}
}

// TestListPages: the failed list pages by delivery id, oldest first.
func TestListPages(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			r := newReceiver(t)
			r.setFail(func(int) int { return http.StatusGone })
			cfg := fast(r.endpoint(t, "p1"))
			cfg.RetryHorizon = time.Millisecond
			st, svc := b.open(t, cfg)
			for _, u := range []string{"u1", "u2", "u3"} {
				if err := st.Create(t.Context(), newConn("p1", u)); err != nil {
					t.Fatal(err)
				}
			}
			testfix.Eventually(t, "three failed deliveries", func() bool {
				d, _ := svc.List(t.Context(), webhook.StatusFailed, 0, 10)
				return len(d) == 3
			})
			first, err := svc.List(t.Context(), webhook.StatusFailed, 0, 2)
			if err != nil || len(first) != 2 || first[0].ID >= first[1].ID {
				t.Fatalf("first page %+v (%v)", first, err)
			}
			rest, err := svc.List(t.Context(), webhook.StatusFailed, first[1].ID, 2)
			if err != nil || len(rest) != 1 || rest[0].ID <= first[1].ID {
				t.Fatalf("second page %+v (%v)", rest, err)
			}
			if _, err := svc.List(t.Context(), "lost", 0, 2); err == nil {
				t.Error("List(status=lost) succeeded")
			}
		})
	}
}

// eventPlugin stands for the workflow engine: it wants events only once
// told to (a lifecycle workflow loaded), and records those it is handed.
type eventPlugin struct {
	wants atomic.Bool
	asked atomic.Int64
	mu    sync.Mutex
	got   []webhook.Event
}

func (p *eventPlugin) ConfigureRiver(*river.Config) {}
func (p *eventPlugin) UseRiver(webhook.Client)      {}

func (p *eventPlugin) EventJobs(ev webhook.Event) []river.InsertManyParams {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, ev)
	return nil
}

func (p *eventPlugin) WantsEvents(string) bool {
	p.asked.Add(1)
	return p.wants.Load()
}

func (p *eventPlugin) events() []webhook.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.got
	p.got = nil
	return out
}

// TestNothingWantsTheEvents: with no endpoint of a project and a plugin
// that wants no events, that project's writes make no event (the store
// skips its outbox); another project's endpoint still gets its own; once
// the plugin wants events, the next writes reach it.
func TestNothingWantsTheEvents(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			r := newReceiver(t)
			p := &eventPlugin{}
			cfg := fast(r.endpoint(t, "p2"))
			cfg.Plugins = []webhook.Plugin{p}
			st, svc := b.open(t, cfg)
			ctx := t.Context()
			if svc.Wants("p1") || !svc.Wants("p2") {
				t.Fatalf("Wants: p1 %v, p2 %v; want false, true", svc.Wants("p1"), svc.Wants("p2"))
			}
			c := newConn("p1", "u1")
			if err := st.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			c.Status, c.LastError = connection.StatusNeedsReconnect, "invalid_grant"
			if err := st.Update(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := svc.EmitTestFailed(ctx, *c, "answered 401"); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, "p1", "u1", c.ID); err != nil {
				t.Fatal(err)
			}
			if got := p.events(); len(got) != 0 || p.asked.Load() == 0 {
				t.Errorf("the plugin was asked %d times and handed %d events, want asked and none", p.asked.Load(), len(got))
			}
			if err := st.Create(ctx, newConn("p2", "u1")); err != nil {
				t.Fatal(err)
			}
			testfix.Eventually(t, "p2's endpoint gets its event", func() bool { return len(r.received()) == 1 })
			if got := r.received()[0].event; got.Type != webhook.ConnectionCreated || got.Data.ProjectID != "p2" {
				t.Errorf("p2's endpoint got %+v", got)
			}
			if got := p.events(); len(got) != 0 {
				t.Errorf("the plugin was handed %d events while it wanted none", len(got))
			}

			p.wants.Store(true) // a lifecycle workflow was loaded
			c = newConn("p1", "u1")
			if err := st.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			c.Status, c.LastError = connection.StatusNeedsReconnect, "invalid_grant"
			if err := st.Update(ctx, c); err != nil {
				t.Fatal(err)
			}
			got := p.events()
			if len(got) != 2 || got[0].Type != webhook.ConnectionCreated || got[1].Type != webhook.ConnectionRefreshFailed ||
				got[0].Data.ProjectID != "p1" || got[1].Data.CredentialID != c.ID {
				t.Errorf("once wanted, the plugin was handed %+v", got)
			}
			if n := len(r.received()); n != 1 {
				t.Errorf("p2's endpoint got %d events, want only its own", n)
			}
		})
	}
}
