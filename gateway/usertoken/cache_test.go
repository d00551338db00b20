package usertoken

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// mintN mints n distinct valid tokens for the test project.
func mintN(t testing.TB, n int, ttl time.Duration) []string {
	t.Helper()
	k := keys(t)
	toks := make([]string, n)
	for i := range toks {
		var err error
		if toks[i], err = Mint(k.ec, "", project, fmt.Sprintf("user-%d", i), ttl, t0); err != nil {
			t.Fatal(err)
		}
	}
	return toks
}

// waitSweep returns once no sweep is running. put takes the lock before it
// starts the sweep's goroutine, so a sweep it started is waited for.
func waitSweep(c *cache) {
	c.sweeping.Lock()
	defer c.sweeping.Unlock()
}

// count counts the entries actually stored.
func count(c *cache) int {
	n := 0
	c.entries.Range(func(any, any) bool { n++; return true })
	return n
}

func TestCacheHitSkipsVerification(t *testing.T) {
	v, _ := newTestVerifier(t, Options{})
	tok := mintN(t, 1, time.Hour)[0]
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	// With no keys left, only the cache can answer.
	v.keys = keyring{}
	c, err := v.Verify(tok)
	if err != nil || c.Subject != "user-0" {
		t.Fatalf("cached Verify = %+v, %v", c, err)
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	v, clk := newTestVerifier(t, Options{})
	tok := mintN(t, 1, time.Hour)[0]
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clk.set(t0.Add(time.Hour + 29*time.Second)) // within the leeway
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.set(t0.Add(time.Hour + 30*time.Second))
	_, err := v.Verify(tok)
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("after expiry err = %v, want ErrExpired", err)
	}
	checkRefusal(t, err, tok)
	if n := count(v.cache); n != 0 || v.cache.len() != 0 {
		t.Fatalf("expired entry kept: %d stored, len %d", n, v.cache.len())
	}
	// And again, now from a full verification.
	if _, err := v.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("second try err = %v, want ErrExpired", err)
	}
}

func TestRefusalsAreNotCached(t *testing.T) {
	k := keys(t)
	v, clk := newTestVerifier(t, Options{})
	early := sign(t, jwt.SigningMethodES256, k.ec, "", edit(jwt.MapClaims{"nbf": t0.Add(time.Hour).Unix(), "exp": t0.Add(2 * time.Hour).Unix()}))
	bad := tamperSig(sign(t, jwt.SigningMethodES256, k.ec, "", validClaims()))
	for _, tok := range []string{early, bad, "garbage"} {
		if _, err := v.Verify(tok); err == nil {
			t.Fatal("Verify accepted a bad token")
		}
	}
	if n := count(v.cache); n != 0 {
		t.Fatalf("%d refusals cached", n)
	}
	clk.set(t0.Add(time.Hour))
	if _, err := v.Verify(early); err != nil {
		t.Fatalf("once valid: %v", err)
	}
}

func TestCacheStaysBounded(t *testing.T) {
	const size = 200
	v, _ := newTestVerifier(t, Options{CacheSize: size})
	toks := mintN(t, 3*size, time.Hour)
	for i, tok := range toks {
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if n := count(v.cache); n > size {
			t.Fatalf("after %d tokens the cache holds %d > %d", i+1, n, size)
		}
	}
	waitSweep(v.cache)
	n := count(v.cache)
	if n > size || n != v.cache.len() {
		t.Fatalf("cache holds %d (len %d), bound %d", n, v.cache.len(), size)
	}
	// Evicted or not, every token still verifies, and new ones are cached
	// again after a sweep.
	for _, tok := range toks {
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	waitSweep(v.cache)
	if n := count(v.cache); n == 0 || n > size {
		t.Fatalf("cache holds %d after the second pass, bound %d", n, size)
	}
}

func TestCacheBoundedUnderConcurrency(t *testing.T) {
	const size, workers = 100, 64
	v, _ := newTestVerifier(t, Options{CacheSize: size})
	toks := mintN(t, 3*size, time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range toks {
				tok := toks[(i+w*7)%len(toks)]
				c, err := v.Verify(tok)
				if err == nil && c.Subject == "" {
					err = errors.New("empty subject")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitSweep(v.cache)
	if n := count(v.cache); n > size || n != v.cache.len() {
		t.Fatalf("cache holds %d (len %d), bound %d", n, v.cache.len(), size)
	}
}

func TestSweepDropsExpiredFirst(t *testing.T) {
	c := newCache(10)
	live, dead := time.Unix(2000, 0), time.Unix(1000, 0)
	for i := range 10 {
		deadline := live
		if i%2 == 0 {
			deadline = dead
		}
		c.put([32]byte{byte(i)}, &cacheEntry{deadline: deadline}, time.Unix(0, 0))
	}
	c.sweeping.Lock()
	c.sweep(time.Unix(1500, 0))
	c.sweeping.Unlock()
	c.entries.Range(func(_, v any) bool {
		if v.(*cacheEntry).deadline.Equal(dead) {
			t.Fatal("an expired entry survived the sweep")
		}
		return true
	})
	if n := count(c); n > 5 || n != c.len() {
		t.Fatalf("after the sweep %d entries (len %d)", n, c.len())
	}
}

func TestCacheDisabled(t *testing.T) {
	v, _ := newTestVerifier(t, Options{CacheSize: -1})
	if v.cache != nil {
		t.Fatal("cache allocated with CacheSize -1")
	}
	tok := mintN(t, 1, time.Hour)[0]
	for range 2 {
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTinyCache(t *testing.T) {
	v, _ := newTestVerifier(t, Options{CacheSize: 1})
	for _, tok := range mintN(t, 20, time.Hour) {
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
		waitSweep(v.cache)
		if n := count(v.cache); n > 1 {
			t.Fatalf("cache of 1 holds %d", n)
		}
	}
}
