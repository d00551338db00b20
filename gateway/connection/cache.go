package connection

import (
	"container/list"
	"sync"
	"time"
)

// DefaultMaxCached is how many decrypted connections Refresher keeps by default.
const DefaultMaxCached = 10_000

// connCache holds decrypted default connections, at most max of them: the
// least recently used goes first, so memory (and how many secrets sit in
// it) stays bounded however many users call.
type connCache struct {
	mu      sync.Mutex
	entries map[cacheKey]*list.Element // of *cacheEntry
	lru     list.List                  // front: most recently used
}

type cacheKey struct{ project, user, integration string }

type cacheEntry struct {
	key     cacheKey
	conn    *Connection
	fetched time.Time
}

// get returns the entry's connection if it was fetched less than ttl ago.
func (c *connCache) get(k cacheKey, ttl time.Duration) (*Connection, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	ce := e.Value.(*cacheEntry)
	if time.Since(ce.fetched) >= ttl {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return ce.conn, true
}

// put stores conn under k, dropping the least recently used entries
// beyond max (DefaultMaxCached when max <= 0).
func (c *connCache) put(k cacheKey, conn *Connection, max int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[cacheKey]*list.Element{}
	}
	if e, ok := c.entries[k]; ok {
		ce := e.Value.(*cacheEntry)
		ce.conn, ce.fetched = conn, time.Now()
		c.lru.MoveToFront(e)
		return
	}
	c.entries[k] = c.lru.PushFront(&cacheEntry{key: k, conn: conn, fetched: time.Now()})
	if max <= 0 {
		max = DefaultMaxCached
	}
	for len(c.entries) > max {
		back := c.lru.Back()
		delete(c.entries, back.Value.(*cacheEntry).key)
		c.lru.Remove(back)
	}
}

func (c *connCache) forget(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		delete(c.entries, k)
		c.lru.Remove(e)
	}
}

func (c *connCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.lru.Init()
}

func (c *connCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
