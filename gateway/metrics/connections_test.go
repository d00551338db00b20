package metrics

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestConnectionsGaugeIsCached: scrapes within the TTL share one count; a
// failed count keeps the last values; every status is reported.
func TestConnectionsGaugeIsCached(t *testing.T) {
	m := New()
	calls, fail := 0, false
	m.CountConnections(func(context.Context) ([]ConnectionCount, error) {
		calls++
		if fail {
			return nil, errors.New("database down")
		}
		return []ConnectionCount{{Integration: "github", Status: "valid", Count: 3}}, nil
	}, []string{"valid", "needs_reconnect"}, time.Second, nil)

	values := func() map[string]float64 {
		t.Helper()
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "plugboard_connections" {
				continue
			}
			for _, metric := range mf.GetMetric() {
				key := ""
				for _, l := range metric.GetLabel() {
					key += l.GetValue() + "/"
				}
				out[key] = metric.GetGauge().GetValue()
			}
		}
		return out
	}
	for range 5 {
		v := values()
		if v["github/valid/"] != 3 || v["github/needs_reconnect/"] != 0 || len(v) != 2 {
			t.Fatalf("values %v", v)
		}
	}
	if calls != 1 {
		t.Errorf("5 scrapes within the TTL counted %d times, want 1", calls)
	}
	time.Sleep(1100 * time.Millisecond)
	fail = true
	if v := values(); v["github/valid/"] != 3 || calls != 2 {
		t.Errorf("after a failed count: %v (%d calls), want the last values", v, calls)
	}
}
