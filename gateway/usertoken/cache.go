package usertoken

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// cache remembers tokens that verified, keyed by the SHA-256 of the token,
// so that a repeat costs a hash and a lock-free map read instead of a
// signature check. A hit still re-checks expiry.
//
// Only verified tokens enter it, so filling it takes the project's signing
// key: garbage cannot evict real entries. Refusals are not cached: each
// costs at most one signature check, a negative cache would not stop an
// attacker who varies one byte, and a "not yet valid" answer goes stale.
//
// It is bounded. When full, one background sweep drops the expired entries
// and a random half of the others; until it is done new tokens are simply
// not cached. Keys are uniform digests, so "a random half" is every key
// whose first 8 bytes fall in a half of the key space chosen at random.
type cache struct {
	max      int64
	size     atomic.Int64 // stored entries plus in-flight reservations
	entries  sync.Map     // [sha256.Size]byte → *cacheEntry
	sweeping sync.Mutex   // held while a sweep runs; nobody waits on it
}

type cacheEntry struct {
	claims   Claims
	deadline time.Time // exp + leeway: a hit at or after it has expired
}

func newCache(max int) *cache { return &cache{max: int64(max)} }

func (c *cache) get(key [sha256.Size]byte) (*cacheEntry, bool) {
	v, ok := c.entries.Load(key)
	if !ok {
		return nil, false
	}
	return v.(*cacheEntry), true
}

// put stores e, unless the cache is full; then it starts a sweep.
func (c *cache) put(key [sha256.Size]byte, e *cacheEntry, now time.Time) {
	// Reserve a slot first so that concurrent puts never exceed max.
	if c.size.Add(1) > c.max {
		c.size.Add(-1)
		if c.sweeping.TryLock() {
			go func() {
				defer c.sweeping.Unlock()
				c.sweep(now)
			}()
		}
		return
	}
	if _, loaded := c.entries.LoadOrStore(key, e); loaded {
		c.size.Add(-1)
	}
}

// remove deletes key if it still maps to e.
func (c *cache) remove(key [sha256.Size]byte, e *cacheEntry) {
	if c.entries.CompareAndDelete(key, e) {
		c.size.Add(-1)
	}
}

// sweep drops expired entries and a random half of the rest; the caller
// holds c.sweeping.
func (c *cache) sweep(now time.Time) {
	start := rand.Uint64()
	c.entries.Range(func(k, v any) bool {
		key, e := k.([sha256.Size]byte), v.(*cacheEntry)
		if !now.Before(e.deadline) || binary.BigEndian.Uint64(key[:8])-start < 1<<63 {
			c.remove(key, e)
		}
		return true
	})
	// A small cache can come out of the random pass no emptier.
	c.entries.Range(func(k, v any) bool {
		if c.size.Load() <= c.max/2 {
			return false
		}
		c.remove(k.([sha256.Size]byte), v.(*cacheEntry))
		return true
	})
}

// len returns the number of cached tokens (approximate while puts run).
func (c *cache) len() int { return int(c.size.Load()) }
