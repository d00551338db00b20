package storetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
)

// testWithLockSerialises: 50 read-modify-write cycles under the lock lose
// no increment.
func testWithLockSerialises(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := create(t, s, newConnection("p1", "u1", "github"))
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.WithLock(t.Context(), c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
				count, _ := strconv.Atoi(cur.Credential.Extra["counter"])
				if cur.Credential.Extra == nil {
					cur.Credential.Extra = map[string]string{}
				}
				cur.Credential.Extra["counter"] = strconv.Itoa(count + 1)
				return cur, nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("WithLock: %v", err)
		}
	}
	got := get(t, s, c)
	if got.Credential.Extra["counter"] != strconv.Itoa(n) {
		t.Errorf("counter = %q after %d locked increments, want %d", got.Credential.Extra["counter"], n, n)
	}
	if got.Version != 1+n {
		t.Errorf("Version = %d, want %d", got.Version, 1+n)
	}
}

func testWithLockNilWritesNothing(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := create(t, s, newConnection("p1", "u1", "github"))
	time.Sleep(2 * time.Millisecond) // a write would move UpdatedAt
	got, err := s.WithLock(t.Context(), c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
		cur.Credential.AccessToken = "changed but not returned"
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.ID != c.ID {
		t.Fatalf("WithLock returned %v, want the connection as read", got)
	}
	sameConnection(t, get(t, s, c), c)
}

func testWithLockErrorWritesNothing(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := create(t, s, newConnection("p1", "u1", "github"))
	boom := errors.New("token endpoint said no")
	_, err := s.WithLock(t.Context(), c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
		cur.Credential.AccessToken = "changed"
		return cur, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WithLock returned %v, want fn's error", err)
	}
	sameConnection(t, get(t, s, c), c)
}

// testWithLockSeesLatest: fn gets what was written last, not a cached copy.
func testWithLockSeesLatest(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := create(t, s, newConnection("p1", "u1", "github"))
	c.Credential.AccessToken = "written outside the lock"
	if err := s.Update(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	got, err := s.WithLock(t.Context(), c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
		if cur.Version != c.Version || cur.Credential.AccessToken != c.Credential.AccessToken {
			t.Errorf("fn got version %d, want %d with the latest credential", cur.Version, c.Version)
		}
		cur.Credential.RefreshToken = "rotated"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != c.Version+1 {
		t.Errorf("WithLock returned version %d, want %d", got.Version, c.Version+1)
	}
	sameConnection(t, get(t, s, c), got)
}

func testWithLockNotFound(t *testing.T, h *harness) {
	s := h.fresh(t)
	called := false
	_, err := s.WithLock(t.Context(), "6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50", func(*connection.Connection) (*connection.Connection, error) {
		called = true
		return nil, nil
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("WithLock of a missing connection: %v, want ErrNotFound", err)
	}
	if called {
		t.Error("fn was called for a missing connection")
	}
}

// testWithLockHonoursContext: a waiter gives up when its context ends, and
// the lock still works afterwards.
func testWithLockHonoursContext(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := create(t, s, newConnection("p1", "u1", "github"))
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := s.WithLock(t.Context(), c.ID, func(*connection.Connection) (*connection.Connection, error) {
			close(holding)
			<-release
			return nil, nil
		})
		done <- err
	}()
	<-holding
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := s.WithLock(ctx, c.ID, func(*connection.Connection) (*connection.Connection, error) {
		t.Error("fn ran while another holder had the lock")
		return nil, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the deadline: %v, want context.DeadlineExceeded", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s.WithLock(t.Context(), c.ID, func(*connection.Connection) (*connection.Connection, error) { return nil, nil }); err != nil {
		t.Errorf("lock unusable after a waiter gave up: %v", err)
	}
}
