package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// The gateway over a store of many connections, measured over HTTP as an
// app sees it (README "How cost grows"): proxied requests of users whose
// connection is not cached, /sdk/me of a user with 50 connections, the
// admin listing, startup, and the heap. 1k by default; with
// PLUGBOARD_GROWTH=1 also 100k and 1M.

func TestGrowthGatewaySQLite(t *testing.T) {
	for _, n := range store.GrowthSizes() {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "growth.db")
			measureGateway(t, n, func(kr *seal.Keyring) (store.Store, error) { return store.OpenSQLite(context.Background(), path, kr) })
		})
	}
}

func TestGrowthGatewayPostgres(t *testing.T) {
	for _, n := range store.GrowthSizes() {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dsn := store.PostgresTestDSN(t)
			measureGateway(t, n, func(kr *seal.Keyring) (store.Store, error) { return store.OpenPostgres(context.Background(), dsn, kr) })
		})
	}
}

func measureGateway(t *testing.T, n int, open func(*seal.Keyring) (store.Store, error)) {
	ctx := context.Background()
	entry, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeyring(entry)
	if err != nil {
		t.Fatal(err)
	}
	st, err := open(kr)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SeedGrowth(ctx, st, n); err != nil {
		t.Fatalf("seeding %d connections: %v", n, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(upstream.Close)
	dir := t.TempDir()
	for i := range store.GrowthIntegrations {
		body := fmt.Sprintf(`id: integration-%d
name: Integration %d
description: Growth test integration.
auth:
  type: oauth2
  oauth2:
    authorizationUrl: %[3]s/oauth/authorize
    tokenUrl: %[3]s/oauth/token
    clientId: client
    clientSecret: ${GROWTH_CLIENT_SECRET}
api:
  baseUrl: %[3]s/api
`, i, i, upstream.URL)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("integration-%d.yaml", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := usertoken.GenerateRSA(2048)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := usertoken.KeyID(signer.Public())

	// Startup: open the store and build the gateway until it answers.
	before := heapInUse()
	start := time.Now()
	st, err = open(kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv, err := gateway.New(gateway.Config{
		PublicURL: base, ManifestDir: dir, AdminToken: "growth-admin-token-0123456789",
		Log:      slog.New(slog.DiscardHandler),
		Projects: []project.Config{{ID: store.GrowthProject, Keys: []usertoken.PublicKey{{ID: kid, Key: signer.Public()}}}},
		Store:    st, Keyring: kr,
		Egress: egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(path, token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > time.Minute {
			t.Fatal("the gateway is not ready after a minute")
		}
		time.Sleep(2 * time.Millisecond)
	}
	startup := time.Since(start)

	// Proxied requests of users whose connection is not cached (each user
	// once; their user tokens are minted and verified once beforehand, so
	// that the figure is the connection lookup, not RS256).
	users := min(n, store.GrowthMaxUsers)
	rng := rand.New(rand.NewPCG(2, uint64(n)))
	asked := 2000
	if os.Getenv("PLUGBOARD_GROWTH") != "1" {
		asked = 200 // the default run checks that it works, quickly
	}
	picked := rng.Perm(users)[:min(users, asked)]
	tokens := make([]string, len(picked))
	for i, u := range picked {
		tok, err := usertoken.Mint(signer, kid, store.GrowthProject, fmt.Sprintf("user-%06d", u), time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
		if code, body := get("/projects/"+store.GrowthProject+"/sdk/me", tok); code != 200 {
			t.Fatalf("/sdk/me: %d %s", code, body)
		}
	}
	proxied := make([]time.Duration, len(picked))
	for i, tok := range tokens {
		start := time.Now()
		code, body := get("/projects/"+store.GrowthProject+"/sdk/proxy/custom/integration-0/me", tok)
		proxied[i] = time.Since(start)
		if code != 200 {
			t.Fatalf("proxied request of user-%06d: %d %s", picked[i], code, body)
		}
	}
	slices.Sort(proxied)
	heap := int64(heapInUse()) - int64(before)

	heavy, err := usertoken.Mint(signer, kid, store.GrowthProject, store.HeavyUser, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	me := median(t, 100, func() error {
		code, body := get("/projects/"+store.GrowthProject+"/sdk/me", heavy)
		var me struct {
			Integrations map[string]struct{ AllCredentials []json.RawMessage }
		}
		_ = json.Unmarshal(body, &me)
		total := 0
		for _, in := range me.Integrations {
			total += len(in.AllCredentials)
		}
		if code != 200 || total != 50 {
			return fmt.Errorf("/sdk/me of the user with 50 connections: %d, %d credentials", code, total)
		}
		return nil
	})
	admin := "growth-admin-token-0123456789"
	page := func(query string) (next string, err error) {
		code, body := get("/admin/v1/connections"+query, admin)
		if code != 200 {
			return "", fmt.Errorf("/admin/v1/connections%s: %d %.200s", query, code, body)
		}
		var p struct{ NextCursor string }
		err = json.Unmarshal(body, &p)
		return p.NextCursor, err
	}
	first := median(t, 50, func() error { _, err := page(""); return err })
	byUser := median(t, 50, func() error { _, err := page("?user=user-000001"); return err })
	cursor := ""
	for range min(n/500/2, 200) {
		if cursor, err = page("?limit=500&cursor=" + url.QueryEscape(cursor)); err != nil {
			t.Fatal(err)
		}
	}
	deep := median(t, 50, func() error { _, err := page("?cursor=" + url.QueryEscape(cursor)); return err })
	t.Logf("GATEWAY | %T | %d | startup %v | proxied uncached p50 %v p99 %v | heap +%.1f MB | /sdk/me(50) %v | admin page %v, by user %v, deep %v",
		st, n, startup.Round(time.Millisecond), proxied[len(proxied)/2].Round(time.Microsecond), proxied[len(proxied)*99/100].Round(time.Microsecond),
		float64(heap)/(1<<20), me, first, byUser, deep)
}

func median(t *testing.T, n int, f func() error) time.Duration {
	t.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n/2].Round(time.Microsecond)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
