package webhook_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
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
