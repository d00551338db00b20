package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
)

// OutboxOpener opens the backend under test on a new database with its
// outbox calling record inside each write's transaction.
type OutboxOpener func(t *testing.T, kr *seal.Keyring, record func(store.Change) error) store.Store

// RunOutbox checks that every write of a connection reaches the outbox,
// without secrets, and that an outbox error rolls the write back.
func RunOutbox(t *testing.T, open OutboxOpener) {
	var mu sync.Mutex
	var seen []store.Change
	var fail error
	s := open(t, Keyring(t, Key(t, "k1")), func(ch store.Change) error {
		mu.Lock()
		defer mu.Unlock()
		if fail != nil {
			return fail
		}
		seen = append(seen, ch)
		return nil
	})
	take := func() []store.Change {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
	setFail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		fail = err
	}
	ctx := t.Context()
	noSecret := func(ch store.Change) {
		t.Helper()
		if !credentialEmpty(ch.Connection.Credential) {
			t.Errorf("%s change carries a credential", ch.Op)
		}
	}

	c := create(t, s, newConnection("p1", "u1", "github"))
	got := take()
	if len(got) != 1 || got[0].Op != store.ChangeCreated || got[0].Connection.ID != c.ID ||
		got[0].Connection.Version != 1 || got[0].Connection.ProjectID != "p1" || got[0].Connection.Status != connection.StatusValid {
		t.Fatalf("after Create: changes %+v", got)
	}
	noSecret(got[0])

	refreshed := time.Now().Truncate(time.Millisecond)
	if _, err := s.WithLock(ctx, c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
		next := *cur
		next.Status, next.LastError, next.LastRefreshAt = connection.StatusNeedsReconnect, "invalid_grant", refreshed
		return &next, nil
	}); err != nil {
		t.Fatal(err)
	}
	got = take()
	if len(got) != 1 || got[0].Op != store.ChangeUpdated || got[0].PreviousStatus != connection.StatusValid ||
		got[0].Connection.Status != connection.StatusNeedsReconnect || got[0].Connection.LastError != "invalid_grant" ||
		got[0].Connection.Version != 2 || !got[0].PreviousLastRefreshAt.IsZero() || !got[0].Connection.LastRefreshAt.Equal(refreshed) {
		t.Fatalf("after WithLock: changes %+v", got)
	}
	noSecret(got[0])

	// A health check tells the outbox, with the check before it.
	checked := refreshed.Add(time.Minute)
	if err := s.RecordCheck(ctx, c.ID, checked, "answered 401"); err != nil {
		t.Fatal(err)
	}
	got = take()
	if len(got) != 1 || got[0].Op != store.ChangeChecked || got[0].Connection.ID != c.ID ||
		!got[0].Connection.LastCheckedAt.Equal(checked) || got[0].Connection.CheckError != "answered 401" ||
		!got[0].PreviousCheckedAt.IsZero() || got[0].PreviousCheckError != "" {
		t.Fatalf("after RecordCheck: changes %+v", got)
	}
	noSecret(got[0])

	// A failing outbox rolls each write back.
	boom := errors.New("outbox down")
	setFail(boom)
	if err := s.Create(ctx, newConnection("p1", "u1", "github")); !errors.Is(err, boom) {
		t.Errorf("Create with a failing outbox: %v, want %v", err, boom)
	}
	cur, err := s.Get(ctx, "p1", "u1", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Status = connection.StatusValid
	if err := s.Update(ctx, cur); !errors.Is(err, boom) {
		t.Errorf("Update with a failing outbox: %v, want %v", err, boom)
	}
	if err := s.Delete(ctx, "p1", "u1", c.ID); !errors.Is(err, boom) {
		t.Errorf("Delete with a failing outbox: %v, want %v", err, boom)
	}
	setFail(nil)
	if n, err := s.Count(ctx, "p1", "u1", ""); err != nil || n != 1 {
		t.Errorf("after failed writes: %d connections (%v), want 1", n, err)
	}
	cur, err = s.Get(ctx, "p1", "u1", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Status != connection.StatusNeedsReconnect || cur.Version != 2 {
		t.Errorf("after a rolled-back Update: status %s version %d, want needs_reconnect 2", cur.Status, cur.Version)
	}

	cur.Status, cur.LastError = connection.StatusValid, ""
	if err := s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	got = take()
	if len(got) != 1 || got[0].Op != store.ChangeUpdated || got[0].PreviousStatus != connection.StatusNeedsReconnect ||
		!got[0].PreviousLastRefreshAt.Equal(refreshed) || got[0].Connection.Version != 3 {
		t.Fatalf("after Update: changes %+v", got)
	}
	// A stale Update writes nothing and records nothing.
	cur.Version = 1
	if err := s.Update(ctx, cur); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale Update: %v, want ErrConflict", err)
	}
	if got := take(); len(got) != 0 {
		t.Errorf("stale Update recorded %+v", got)
	}

	if err := s.Delete(ctx, "p1", "u1", c.ID); err != nil {
		t.Fatal(err)
	}
	got = take()
	if len(got) != 1 || got[0].Op != store.ChangeDeleted || got[0].Connection.ID != c.ID ||
		got[0].Connection.IntegrationID != "github" || got[0].Connection.UserID != "u1" {
		t.Fatalf("after Delete: changes %+v", got)
	}

	// The writes of a project the outbox does not want skip it, every
	// kind of them; the others still reach it.
	w, ok := s.(interface {
		SetOutboxWants(func(projectID string) bool)
	})
	if !ok {
		t.Fatalf("%T has no SetOutboxWants", s)
	}
	w.SetOutboxWants(func(projectID string) bool { return projectID == "p2" })
	skipped := create(t, s, newConnection("p1", "u1", "github"))
	skipped.Status = connection.StatusNeedsReconnect
	if err := s.Update(ctx, skipped); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCheck(ctx, skipped.ID, checked.Add(time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "p1", "u1", skipped.ID); err != nil {
		t.Fatal(err)
	}
	if got := take(); len(got) != 0 {
		t.Errorf("writes of a project the outbox does not want reached it: %+v", got)
	}
	wanted := create(t, s, newConnection("p2", "u1", "github"))
	if got := take(); len(got) != 1 || got[0].Op != store.ChangeCreated || got[0].Connection.ID != wanted.ID {
		t.Errorf("a write of a wanted project: changes %+v", got)
	}
	w.SetOutboxWants(nil)
}

func credentialEmpty(c connection.Credential) bool {
	return c.AccessToken == "" && c.RefreshToken == "" && c.ClientSecret == "" && c.ClientID == "" &&
		len(c.Inputs) == 0 && len(c.Extra) == 0 && c.TokenType == ""
}
