package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/store"
)

// Many users calling once each must not keep all their decrypted
// credentials in memory: the cache stays at its cap, keeping the most
// recently used.
func TestCredentialsCacheIsBounded(t *testing.T) {
	entry, err := store.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := store.ParseKeyring(entry)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "cache.db"), kr)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const users, max = 60, 10
	var conns []*store.Connection
	for i := 0; i < users; i++ {
		c := &store.Connection{ProjectID: "p", UserID: fmt.Sprint("u", i), IntegrationID: "x", Status: store.StatusValid,
			Credential: store.Credential{AccessToken: fmt.Sprint("secret-", i)}}
		if err := st.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	creds := &Credentials{Store: st, Log: slog.New(slog.DiscardHandler), MaxCached: max}
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
		c.put(k(i), &store.Connection{ID: fmt.Sprint(i)}, 3)
	}
	if _, ok := c.get(k(0), 1<<62); !ok { // u0 is now the most recent
		t.Fatal("u0 missing")
	}
	c.put(k(3), &store.Connection{ID: "3"}, 3)
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
