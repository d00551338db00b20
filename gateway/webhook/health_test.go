package webhook_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/gateway/webhook"
)

// TestHealthScheduleSpreadsChecks runs the schedule's arithmetic on a fake
// clock, a tick a minute for three intervals, with every due check made at
// once: each connection is checked exactly once per interval, and the
// checks of each tick are about the population divided by the ticks per
// interval, not a burst.
func TestHealthScheduleSpreadsChecks(t *testing.T) {
	const n, interval, tick = 3000, time.Hour, time.Minute
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	conns := make([]store.ConnectionInfo, n)
	for i := range conns {
		conns[i] = store.ConnectionInfo{ID: uuid.NewString(), Status: connection.StatusValid, CreatedAt: start.Add(-24 * time.Hour)}
		// Never checked: due at once (they were last tested when connected).
		if _, ok := webhook.Due(conns[i], interval, start); !ok {
			t.Fatalf("a connection never checked since yesterday is not due")
		}
		conns[i].LastCheckedAt = webhook.Slot(conns[i].ID, interval, start) // as that catch-up leaves it
	}
	conns[0].Status = connection.StatusNeedsReconnect // never checked
	checks := make([]int, n)
	maxPerTick := 0
	for now := start.Add(tick); !now.After(start.Add(3 * interval)); now = now.Add(tick) {
		made := 0
		for i := range conns {
			if slot, ok := webhook.Due(conns[i], interval, now); ok {
				if slot.After(now) || now.Sub(slot) >= interval {
					t.Fatalf("slot %v for now %v", slot, now)
				}
				conns[i].LastCheckedAt = now
				checks[i]++
				made++
			}
		}
		maxPerTick = max(maxPerTick, made)
	}
	for i, c := range checks {
		want := 3
		if i == 0 {
			want = 0
		}
		if c != want {
			t.Fatalf("connection %d checked %d times in 3 intervals, want %d", i, c, want)
		}
	}
	if even := n / int(interval/tick); maxPerTick > 2*even {
		t.Errorf("a tick made %d checks; evenly spread is about %d", maxPerTick, even)
	}
	// A connection created (and so tested) after its slot waits for the next.
	c := store.ConnectionInfo{ID: conns[1].ID, Status: connection.StatusValid}
	slot := webhook.Slot(c.ID, interval, start)
	c.CreatedAt = slot.Add(time.Second)
	if _, ok := webhook.Due(c, interval, slot.Add(time.Minute)); ok {
		t.Error("a connection created after its slot is due in that slot")
	}
	if _, ok := webhook.Due(c, interval, slot.Add(interval)); !ok {
		t.Error("a connection is not due at its next slot")
	}
}

// TestHealthCap runs the schedule on River: the
// checks due are made at most Workers at a time, and scheduling the same
// slot again (the next tick, another replica) checks nobody twice. (Its
// name is short: River's non-transactional insert notifies a channel
// named after the schema, which PostgreSQL limits to 63 bytes.)
func TestHealthCap(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			const n, workers = 12, 3
			var ready atomic.Bool
			var inv lateInventory
			clock := time.Now().Add(2 * time.Hour)
			var mu sync.Mutex
			running, maxRunning := 0, 0
			checked := map[string]int{}
			cfg := fast()
			cfg.Health = &webhook.HealthConfig{
				Intervals: func() map[string]time.Duration {
					if !ready.Load() {
						return nil
					}
					return map[string]time.Duration{"github": time.Hour}
				},
				Check: func(ctx context.Context, id string) error {
					mu.Lock()
					running++
					maxRunning = max(maxRunning, running)
					checked[id]++
					mu.Unlock()
					time.Sleep(100 * time.Millisecond)
					mu.Lock()
					running--
					mu.Unlock()
					return nil
				},
				Store: &inv, Tick: time.Hour, Workers: workers, Now: func() time.Time { return clock },
			}
			st, svc := b.open(t, cfg)
			inv.Inventory = st
			for i := range n {
				if err := st.Create(t.Context(), newConn("p1", fmt.Sprintf("u%d", i))); err != nil {
					t.Fatal(err)
				}
			}
			ready.Store(true)
			if k, err := svc.ScheduleChecks(t.Context()); err != nil || k != n {
				t.Fatalf("ScheduleChecks: %d, %v; want %d", k, err, n)
			}
			if _, err := svc.ScheduleChecks(t.Context()); err != nil { // the same slots again
				t.Fatal(err)
			}
			testfix.Eventually(t, "every connection checked", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(checked) == n && running == 0
			})
			if _, err := svc.ScheduleChecks(t.Context()); err != nil { // and once they are done
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			for id, k := range checked {
				if k != 1 {
					t.Errorf("connection %s checked %d times in one slot", id, k)
				}
			}
			if maxRunning > workers || maxRunning < 2 {
				t.Errorf("%d checks ran at once, want at most %d (and several)", maxRunning, workers)
			}
		})
	}
}

// lateInventory is a store set once the service that uses it is open.
type lateInventory struct{ store.Inventory }
