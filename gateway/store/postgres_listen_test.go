package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/store/storetest"
)

// notice is one call of Listen's fn.
type notice struct{ project, user, integration string }

var flushAll = notice{}

// listen runs s.Listen until t ends and returns what fn receives for
// project (or for everything), after the first call (the flush that says
// Listen is listening). The channel is the database's, and the schemas of
// tests running at the same time in other packages announce their writes
// on it too: only project's are this test's.
func listen(t *testing.T, s store.Notifier, project string) <-chan notice {
	t.Helper()
	ch := make(chan notice, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Listen(ctx, func(p, user, integration string) {
			if p == "" || p == project {
				ch <- notice{p, user, integration}
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	if got := nextNotice(t, ch); got != flushAll {
		t.Fatalf("first call of fn = %+v, want the flush that says Listen is listening", got)
	}
	return ch
}

func nextNotice(t *testing.T, ch <-chan notice) notice {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10s")
		return notice{}
	}
}

func expectNotice(t *testing.T, ch <-chan notice, what string, want notice) {
	t.Helper()
	if got := nextNotice(t, ch); got != want {
		t.Errorf("after %s: notified %+v, want %+v", what, got, want)
	}
}

// TestPostgresListen: every kind of write through one store is announced
// to a listener on another, in order, with ids and nothing secret; writes
// that fail or change nothing announce nothing.
func TestPostgresListen(t *testing.T) {
	dsn, _, a, b := twoReplicas(t)
	ctx := t.Context()
	raw := rawPostgres(t, dsn) // sees the payloads themselves
	if _, err := raw.Exec(ctx, "LISTEN plugboard_connections"); err != nil {
		t.Fatal(err)
	}
	p1 := "listen-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	events := listen(t, a, p1)

	github, zendesk := notice{p1, "u1", "github"}, notice{p1, "u2", "zendesk"}
	c1 := testConnection(p1, "u1", "github", "SECRET-TOKEN-1")
	c2 := testConnection(p1, "u1", "github", "SECRET-TOKEN-2")
	z := testConnection(p1, "u2", "zendesk", "SECRET-TOKEN-3")
	for _, c := range []*connection.Connection{c1, c2, z} {
		if err := b.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		expectNotice(t, events, "Create", notice{c.ProjectID, c.UserID, c.IntegrationID})
	}

	stale := *c1
	c1.Credential.AccessToken = "SECRET-TOKEN-1-refreshed"
	if err := b.Update(ctx, c1); err != nil {
		t.Fatal(err)
	}
	expectNotice(t, events, "Update", github)
	if err := b.Update(ctx, &stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale Update: %v, want ErrConflict", err)
	}
	if _, err := b.WithLock(ctx, c1.ID, func(*connection.Connection) (*connection.Connection, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if err := b.SetDefault(ctx, p1, "u1", c1.ID); err != nil { // already the default: no change
		t.Fatal(err)
	}
	if err := b.PutTicket(ctx, "state", "k", []byte("v"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	// Notifications arrive in commit order: had any of the above announced
	// itself, its notice would come before this one.
	z.Credential.AccessToken = "SECRET-TOKEN-3-refreshed"
	if err := b.Update(ctx, z); err != nil {
		t.Fatal(err)
	}
	expectNotice(t, events, "a failed Update, a WithLock that wrote nothing, a SetDefault of the default, "+
		"a ticket, a Rotate and an Update", zendesk)

	if err := b.SetDefault(ctx, p1, "u1", c2.ID); err != nil {
		t.Fatal(err)
	}
	expectNotice(t, events, "SetDefault", github)
	if _, err := b.WithLock(ctx, z.ID, increment); err != nil {
		t.Fatal(err)
	}
	expectNotice(t, events, "WithLock's write", zendesk)
	if err := b.Delete(ctx, p1, "u1", c1.ID); err != nil {
		t.Fatal(err)
	}
	expectNotice(t, events, "Delete", github)
	// A's own writes are announced to A too.
	if err := a.Delete(ctx, p1, "u2", z.ID); err != nil {
		t.Fatal(err)
	}
	expectNotice(t, events, "Delete on the listening store", zendesk)

	// 3 Creates, 2 Updates, SetDefault, WithLock, 2 Deletes.
	for i := range 9 {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, err := raw.WaitForNotification(wctx)
		cancel()
		if err != nil {
			t.Fatalf("raw listener, notification %d: %v", i+1, err)
		}
		if strings.Contains(n.Payload, "SECRET") {
			t.Errorf("payload %s holds a secret", n.Payload)
		}
		var ids map[string]string
		if err := json.Unmarshal([]byte(n.Payload), &ids); err != nil || len(ids) != 3 ||
			ids["project_id"] == "" || ids["user_id"] == "" || ids["integration_id"] == "" {
			t.Errorf("payload %s, want the project, user and integration ids (%v)", n.Payload, err)
		}
	}
}

// TestPostgresListenReconnects: when its connection is cut, Listen
// reconnects by itself and says that anything may have changed meanwhile.
func TestPostgresListenReconnects(t *testing.T) {
	dsn, _, a, b := twoReplicas(t)
	p1 := "reconnect-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	events := listen(t, a, p1)

	var killed int
	if err := rawPostgres(t, dsn).QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN plugboard_connections' AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listening sessions, want 1", killed)
	}
	expectNotice(t, events, "the listening session was terminated", flushAll)

	c := testConnection(p1, "u1", "github", "tok")
	if err := b.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	expectNotice(t, events, "Create after the reconnection", notice{p1, "u1", "github"})
}

// TestPostgresListenReturns: Listen returns ctx.Err() when its context
// ends, and nil when the store is closed.
func TestPostgresListenReturns(t *testing.T) {
	s := openPostgres(t, store.PostgresTestDSN(t), storetest.Keyring(t, storetest.Key(t, "k1")))
	run := func(ctx context.Context) <-chan error {
		ready, done := make(chan struct{}), make(chan error, 1)
		go func() {
			done <- s.Listen(ctx, func(p, u, i string) {
				if p == "" {
					select {
					case <-ready:
					default:
						close(ready)
					}
				}
			})
		}()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("Listen returned %v before listening", err)
		case <-time.After(10 * time.Second):
			t.Fatal("Listen did not start listening within 10s")
		}
		return done
	}
	wait := func(done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Listen did not return within 5s")
			return nil
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := run(ctx)
	cancel()
	if err := wait(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Listen after its context ended: %v, want context.Canceled", err)
	}

	done = run(t.Context())
	_ = s.Close()
	if err := wait(done); err != nil {
		t.Errorf("Listen after Close: %v, want nil", err)
	}
	if err := s.Listen(t.Context(), nil); err == nil {
		t.Error("Listen with a nil fn succeeded")
	}
}
