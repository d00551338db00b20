package connection

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// UsageStore is where UsageRecorder writes: the store's MarkUsed.
type UsageStore interface {
	MarkUsed(ctx context.Context, used map[string]time.Time) error
}

// Defaults of UsageRecorder.
const (
	DefaultUsageInterval = time.Minute
	// usageBatchDelay is how long the writer waits after a write before the
	// next, so that uses arriving together are written together.
	usageBatchDelay   = time.Second
	usageWriteTimeout = 5 * time.Second
)

// UsageRecorder keeps connections' LastUsedAt without slowing the requests
// that use them: Used only notes the time in memory, at most once per
// Interval per connection (later uses within it are not noted), and Run
// writes the notes in batches in the background. Per process: with several
// replicas, each writes at most once per Interval per connection.
type UsageRecorder struct {
	Store    UsageStore
	Interval time.Duration // default DefaultUsageInterval
	Log      *slog.Logger

	mu      sync.Mutex
	noted   map[string]time.Time // id -> when last noted, swept once older than Interval
	pending map[string]time.Time // noted, not written yet
	sweepAt int                  // len(noted) at which old entries are swept
	wake    chan struct{}
}

func (u *UsageRecorder) interval() time.Duration {
	if u.Interval <= 0 {
		return DefaultUsageInterval
	}
	return u.Interval
}

// Used notes that connection id was used now. It never blocks on the store.
func (u *UsageRecorder) Used(id string) {
	if u == nil {
		return
	}
	now := time.Now()
	u.mu.Lock()
	if last, ok := u.noted[id]; ok && now.Sub(last) < u.interval() {
		u.mu.Unlock()
		return
	}
	if u.noted == nil {
		u.noted, u.pending = map[string]time.Time{}, map[string]time.Time{}
	}
	u.noted[id], u.pending[id] = now, now
	if len(u.noted) >= u.sweepAt {
		for k, t := range u.noted {
			if now.Sub(t) >= u.interval() {
				delete(u.noted, k)
			}
		}
		u.sweepAt = max(2*len(u.noted), 1024)
	}
	wake := u.wakeChan()
	u.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default: // a write is already due
	}
}

// wakeChan is the writer's signal; u.mu must be held.
func (u *UsageRecorder) wakeChan() chan struct{} {
	if u.wake == nil {
		u.wake = make(chan struct{}, 1)
	}
	return u.wake
}

// Run writes noted uses until ctx ends, then writes what is left and returns.
func (u *UsageRecorder) Run(ctx context.Context) {
	u.mu.Lock()
	wake := u.wakeChan()
	u.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			u.Flush(context.WithoutCancel(ctx))
			return
		case <-wake:
		}
		u.Flush(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(usageBatchDelay):
		}
	}
}

// Flush writes the uses noted so far. A failed write is logged and
// dropped: the next use of each connection will be noted again after
// Interval.
func (u *UsageRecorder) Flush(ctx context.Context) {
	u.mu.Lock()
	batch := u.pending
	if len(batch) == 0 {
		// batch is still u.pending, which Used writes: not read past
		// the lock.
		u.mu.Unlock()
		return
	}
	u.pending = map[string]time.Time{}
	u.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, usageWriteTimeout)
	defer cancel()
	if err := u.Store.MarkUsed(wctx, batch); err != nil && u.Log != nil {
		u.Log.Warn("recording when connections were last used failed", "connections", len(batch), "error", err.Error())
	}
}
