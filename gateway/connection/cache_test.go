package connection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
)

// Many users calling once each must not keep all their decrypted
// credentials in memory: the cache stays at its cap, keeping the most
// recently used.
func TestRefresherCacheIsBounded(t *testing.T) {
	st := &memSource{}
	ctx := context.Background()
	const users, max = 60, 10
	var conns []*Connection
	for i := 0; i < users; i++ {
		c := &Connection{ProjectID: "p", UserID: fmt.Sprint("u", i), IntegrationID: "x", Status: StatusValid,
			Credential: Credential{AccessToken: fmt.Sprint("secret-", i)}}
		if err := st.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	creds := &Refresher{Store: st, Log: slog.New(slog.DiscardHandler), MaxCached: max}
	for _, c := range conns {
		if _, err := creds.Default(ctx, "p", c.UserID, "x"); err != nil {
			t.Fatal(err)
		}
	}
	// u50 (the oldest cached) is used again, then u0 comes back: u51,
	// now the least recently used, makes room.
	for _, u := range []string{"u50", "u0"} {
		if _, err := creds.Default(ctx, "p", u, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if n := creds.cache.len(); n != max {
		t.Fatalf("cache holds %d connections after %d users, want the cap %d", n, users, max)
	}
	// Delete everything from the store: what is still cached is served,
	// what was evicted is not.
	for _, c := range conns {
		if err := st.Delete(ctx, "p", c.UserID, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range conns {
		_, err := creds.Default(ctx, "p", c.UserID, "x")
		cached := i == 0 || i == 50 || i >= 52
		if cached && err != nil {
			t.Errorf("%s, among the %d most recently used, was evicted: %v", c.UserID, max, err)
		}
		if !cached && !errors.Is(err, ErrNotConnected) {
			t.Errorf("%s should have been evicted; got %v", c.UserID, err)
		}
	}
}

func TestConnCacheEvictsLeastRecentlyUsed(t *testing.T) {
	var c connCache
	k := func(i int) cacheKey { return cacheKey{"p", fmt.Sprint("u", i), "x"} }
	for i := 0; i < 3; i++ {
		c.put(k(i), &Connection{ID: fmt.Sprint(i)}, 3)
	}
	if _, ok := c.get(k(0), 1<<62); !ok { // u0 is now the most recent
		t.Fatal("u0 missing")
	}
	c.put(k(3), &Connection{ID: "3"}, 3)
	if _, ok := c.get(k(1), 1<<62); ok {
		t.Error("u1, the least recently used, was kept")
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := c.get(k(i), 1<<62); !ok {
			t.Errorf("u%d evicted", i)
		}
	}
	c.forget(k(2))
	c.forgetAll()
	if c.len() != 0 {
		t.Error("forgetAll left entries")
	}
}

// memSource is a Source in memory: the users' default connections.
type memSource struct {
	mu    sync.Mutex
	conns map[string]*Connection
}

func (m *memSource) Create(_ context.Context, c *Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns == nil {
		m.conns = map[string]*Connection{}
	}
	c.ID, c.IsDefault = c.ProjectID+"/"+c.UserID+"/"+c.IntegrationID, true
	m.conns[c.ID] = c
	return nil
}

func (m *memSource) Delete(_ context.Context, projectID, userID, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.conns, id)
	return nil
}

func (m *memSource) Default(_ context.Context, projectID, userID, integrationID string) (*Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.conns[projectID+"/"+userID+"/"+integrationID]; ok {
		return c, nil
	}
	return nil, ErrNotFound
}

func (m *memSource) WithLock(ctx context.Context, id string, fn func(*Connection) (*Connection, error)) (*Connection, error) {
	return nil, errors.New("memSource: no locks")
}
