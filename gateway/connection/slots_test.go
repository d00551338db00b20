package connection

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/metrics"
)

func TestRefreshSlotsCapPerIntegration(t *testing.T) {
	var s refreshSlots
	m := metrics.New()
	ctx := context.Background()
	var releases []func()
	for range 2 {
		release, err := s.acquire(ctx, "a", 2, m)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	// Another integration has slots of its own.
	releaseB, err := s.acquire(ctx, "b", 2, m)
	if err != nil {
		t.Fatalf("integration b waits for a's slots: %v", err)
	}
	if got := value(t, m, "plugboard_token_refreshes_in_flight", "a"); got != 2 {
		t.Errorf("a in flight: %v, want 2", got)
	}
	// A third refresh of a waits, and gives up with its context.
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.acquire(short, "a", 2, m); !errors.Is(err, context.Canceled) {
		t.Fatalf("a third slot of 2: %v, want to wait until the context ends", err)
	}
	if got := value(t, m, "plugboard_token_refresh_waits_total", "a"); got != 1 {
		t.Errorf("waits counted: %v, want 1", got)
	}
	// Once one is released, the next gets its slot.
	done := make(chan func())
	go func() {
		release, err := s.acquire(ctx, "a", 2, m)
		if err != nil {
			t.Error(err)
		}
		done <- release
	}()
	releases[0]()
	(<-done)()
	releases[1]()
	releaseB()
	for _, id := range []string{"a", "b"} {
		if got := value(t, m, "plugboard_token_refreshes_in_flight", id); got != 0 {
			t.Errorf("%s in flight after every release: %v", id, got)
		}
		if got := value(t, m, "plugboard_token_refreshes_waiting", id); got != 0 {
			t.Errorf("%s waiting after every release: %v", id, got)
		}
	}
	if body := gather(t, m); !strings.Contains(body, "plugboard_token_refresh_waits_total") {
		t.Error("the metrics are not registered")
	}
}

func TestRefreshSlotsNoCap(t *testing.T) {
	var s refreshSlots
	for range 100 {
		if _, err := s.acquire(context.Background(), "a", -1, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func gather(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return strings.Join(names, " ")
}

// value reads a series of m's registry: name{integration="…"}, 0 when absent.
func value(t *testing.T, m *metrics.Metrics, name, integration string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "integration" && l.GetValue() == integration {
					return s.GetGauge().GetValue() + s.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
