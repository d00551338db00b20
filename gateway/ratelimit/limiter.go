package ratelimit

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the buckets one Limiter keeps (about 260 bytes
// each, so some 13 MB at the cap).
const DefaultMaxKeys = 50_000

// Limiter keeps a token bucket per key. Memory is bounded: a bucket unused
// for as long as it takes to refill is forgotten (it would behave exactly
// like a new one), and beyond MaxKeys buckets the least recently used one
// is forgotten even if it was not full: then a key can briefly get more
// than its rate, which only happens while more than MaxKeys keys are
// active at once. A nil *Limiter allows everything.
type Limiter struct {
	rate    Rate
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // front: most recently used
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	last time.Time
}

// Options tune a Limiter.
type Options struct {
	MaxKeys int              // default DefaultMaxKeys
	Now     func() time.Time // clock, for tests; default time.Now
}

// New returns a limiter of r per key, or nil (no limit) when r is off or unset.
func New(r Rate, opt Options) *Limiter {
	if r.Off || r.IsZero() {
		return nil
	}
	if opt.MaxKeys <= 0 {
		opt.MaxKeys = DefaultMaxKeys
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Limiter{rate: r, maxKeys: opt.MaxKeys, now: opt.Now, buckets: map[string]*list.Element{}}
}

// Rate returns the limiter's rate.
func (l *Limiter) Rate() Rate {
	if l == nil {
		return Disabled
	}
	return l.rate
}

// Allow takes one event from key's bucket. When the bucket is empty it
// takes nothing and returns false with how long until the event would be
// allowed (from the limiter's reservation).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	var b *bucket
	if e, found := l.buckets[key]; found {
		b = e.Value.(*bucket)
		l.lru.MoveToFront(e)
	} else {
		b = &bucket{key: key, lim: rate.NewLimiter(l.rate.limit(), l.rate.Burst)}
		l.buckets[key] = l.lru.PushFront(b)
		for len(l.buckets) > l.maxKeys {
			l.remove(l.lru.Back())
		}
	}
	b.last = now
	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Duration(math.MaxInt64)
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// forgetIdle drops buckets, least recently used first, that have had time
// to fill up again.
func (l *Limiter) forgetIdle(now time.Time) {
	idle := l.rate.refill()
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		if now.Sub(e.Value.(*bucket).last) < idle {
			return
		}
		l.remove(e)
	}
}

func (l *Limiter) remove(e *list.Element) {
	delete(l.buckets, e.Value.(*bucket).key)
	l.lru.Remove(e)
}

// Len returns how many buckets the limiter holds.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
