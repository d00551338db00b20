package connection

import (
	"context"
	"sync"
	"testing"
	"time"
)

type usageLog struct {
	mu     sync.Mutex
	writes []map[string]time.Time
}

func (l *usageLog) MarkUsed(_ context.Context, used map[string]time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, used)
	return nil
}

// TestUsageRecorderThrottles: uses of one connection within the interval
// are noted once; Run writes them in a batch, and once more on the way out.
func TestUsageRecorderThrottles(t *testing.T) {
	log := &usageLog{}
	u := &UsageRecorder{Store: log, Interval: time.Hour}
	for range 100 {
		u.Used("a")
	}
	u.Used("b")
	u.Flush(t.Context())
	u.Used("a") // within the hour: not noted
	u.Flush(t.Context())
	if len(log.writes) != 1 || len(log.writes[0]) != 2 {
		t.Fatalf("writes = %v, want one batch of a and b", log.writes)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	u.Used("c")
	deadline := time.Now().Add(5 * time.Second)
	for {
		log.mu.Lock()
		n := len(log.writes)
		log.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not write a new use")
		}
		time.Sleep(5 * time.Millisecond)
	}
	u.Used("d") // within Run's batch delay: written when it stops
	cancel()
	<-done
	if len(log.writes) != 3 || log.writes[2]["d"].IsZero() {
		t.Errorf("writes = %v, want d written on the way out", log.writes)
	}
	var nilRecorder *UsageRecorder
	nilRecorder.Used("x") // records nothing, does not panic
}
