package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
)

// testTicketsSingleUse: a ticket is returned once, then never again.
func testTicketsSingleUse(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := context.Background()
	if err := s.PutTicket(ctx, "link", "k1", []byte("value-1"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeTicket(ctx, "other-kind", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a ticket of another kind: %v", err)
	}
	v, err := s.TakeTicket(ctx, "link", "k1")
	if err != nil || string(v) != "value-1" {
		t.Fatalf("take: %q %v", v, err)
	}
	if _, err := s.TakeTicket(ctx, "link", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second take: %v, want ErrNotFound", err)
	}
}

// testTicketsExpire: an expired ticket is not returned.
func testTicketsExpire(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := context.Background()
	if err := s.PutTicket(ctx, "state", "old", []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeTicket(ctx, "state", "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired ticket: %v, want ErrNotFound", err)
	}
}

// testTicketsOneTaker: of many concurrent takers exactly one wins.
func testTicketsOneTaker(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := context.Background()
	if err := s.PutTicket(ctx, "state", "race", []byte("x"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.TakeTicket(ctx, "state", "race"); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("take: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d takers got the ticket, want 1", wins.Load())
	}
}

// testTicketsPeek: peeking leaves the ticket in place for the next peek and
// for the one take; an expired ticket cannot be peeked.
func testTicketsPeek(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := context.Background()
	if _, err := s.PeekTicket(ctx, "session", "none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("peek of an unknown ticket: %v, want ErrNotFound", err)
	}
	if err := s.PutTicket(ctx, "session", "k", []byte("cred-1"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if v, err := s.PeekTicket(ctx, "session", "k"); err != nil || string(v) != "cred-1" {
			t.Fatalf("peek %d: %q %v", i+1, v, err)
		}
	}
	if _, err := s.PeekTicket(ctx, "other-kind", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("peek of another kind: %v, want ErrNotFound", err)
	}
	if v, err := s.TakeTicket(ctx, "session", "k"); err != nil || string(v) != "cred-1" {
		t.Fatalf("take after peeks: %q %v", v, err)
	}
	if _, err := s.PeekTicket(ctx, "session", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("peek after take: %v, want ErrNotFound", err)
	}
	if err := s.PutTicket(ctx, "session", "old", []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PeekTicket(ctx, "session", "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("peek of an expired ticket: %v, want ErrNotFound", err)
	}
}
