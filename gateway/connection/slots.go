package connection

import (
	"context"
	"sync"

	"github.com/plugboardhq/plugboard/gateway/metrics"
)

// DefaultMaxConcurrentRefreshes is Refresher.MaxConcurrentRefreshes'
// default: enough to refresh thousands of tokens a minute against a token
// endpoint answering in a few hundred milliseconds, few enough not to look
// like an attack to the provider or to take the whole database pool.
const DefaultMaxConcurrentRefreshes = 16

// refreshSlots is a counting semaphore per integration: the token requests
// one integration may have in flight at once.
type refreshSlots struct {
	mu     sync.Mutex
	slots  map[string]chan struct{}
	gauges *metrics.RefreshSlots
}

// free reports whether integration has a slot free now (max as acquire's).
func (s *refreshSlots) free(integration string, max int) bool {
	if max < 0 {
		return true
	}
	s.mu.Lock()
	ch, ok := s.slots[integration]
	s.mu.Unlock()
	return !ok || len(ch) < cap(ch)
}

// acquire waits for one of integration's max slots (max < 0: no cap; 0:
// the default) and returns the function that gives it back.
func (s *refreshSlots) acquire(ctx context.Context, integration string, max int, m *metrics.Metrics) (release func(), err error) {
	if max == 0 {
		max = DefaultMaxConcurrentRefreshes
	}
	s.mu.Lock()
	if s.gauges == nil && m != nil {
		s.gauges = m.RefreshSlots()
	}
	gauges := s.gauges
	s.mu.Unlock()
	if max < 0 {
		if gauges != nil {
			gauges.InFlight.WithLabelValues(integration).Inc()
			return func() { gauges.InFlight.WithLabelValues(integration).Dec() }, nil
		}
		return func() {}, nil
	}
	s.mu.Lock()
	if s.slots == nil {
		s.slots = map[string]chan struct{}{}
	}
	ch, ok := s.slots[integration]
	if !ok || cap(ch) != max {
		// A changed cap takes effect for new waiters; holders of the old
		// channel release into it, which nobody else uses any more.
		ch = make(chan struct{}, max)
		s.slots[integration] = ch
	}
	s.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
		if gauges != nil {
			gauges.Waits.WithLabelValues(integration).Inc()
			gauges.Waiting.WithLabelValues(integration).Inc()
		}
		var err error
		select {
		case ch <- struct{}{}:
			// Taken, even if ctx ends right now: the slot is ours to
			// release, so this is not an error.
		case <-ctx.Done():
			err = ctx.Err()
		}
		if gauges != nil {
			gauges.Waiting.WithLabelValues(integration).Dec()
		}
		if err != nil {
			return nil, err
		}
	}
	if gauges != nil {
		gauges.InFlight.WithLabelValues(integration).Inc()
	}
	return func() {
		if gauges != nil {
			gauges.InFlight.WithLabelValues(integration).Dec()
		}
		<-ch
	}, nil
}
