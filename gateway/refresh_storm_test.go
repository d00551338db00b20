package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/internal/fakeprovider"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// growthSize is n, or big when PLUGBOARD_GROWTH=1 asks for the sizes that
// take minutes (README "How cost grows").
func growthSize(n, big int) int {
	if os.Getenv("PLUGBOARD_GROWTH") == "1" {
		return big
	}
	return n
}

func TestRefreshStormSQLite(t *testing.T) {
	testRefreshStorm(t, nil)
}

func TestRefreshStormPostgres(t *testing.T) {
	// WithLock holds a connection of a second pool of pool_max_conns
	// while a token request runs: room for both integrations' slots.
	dsn := postgresTestDSN(t) + "&pool_max_conns=8"
	testRefreshStorm(t, func(cfg *Config) store.Store {
		st, err := store.OpenPostgres(context.Background(), dsn, cfg.Keyring)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

// testRefreshStorm: many connections of two OAuth providers all expire
// within the same minute while requests for them keep coming. Each
// provider sees at most the cap of token requests at once, every request
// succeeds, and every connection is refreshed exactly once (the fake
// provider rotates refresh tokens, so a second refresh with the old one
// would fail, and counts each refresh token's uses).
func testRefreshStorm(t *testing.T, openStore func(*Config) store.Store) {
	const slots = 4
	n := growthSize(1_000, 10_000)
	second := fakeprovider.New()
	t.Cleanup(second.Close)
	var st store.Store
	e := startProxyEnvWith(t, func(cfg *Config) {
		cfg.Limits.MaxConcurrentRefreshes = slots
		writeFile(t, filepath.Join(cfg.ManifestDir, "fakeoauth2.yaml"), strings.ReplaceAll(`id: fakeoauth2
name: Second Fake OAuth
description: Another OAuth 2.0 provider stand-in.
auth:
  type: oauth2
  oauth2:
    authorizationUrl: {{P}}/oauth/authorize
    tokenUrl: {{P}}/oauth/token
    clientId: `+second.ClientID+`
    clientSecret: ${SECOND_CLIENT_SECRET}
api:
  baseUrl: {{P}}/api
  testEndpoint: /me
`, "{{P}}", second.URL))
		lookup := cfg.Manifest.Secrets.LookupEnv
		cfg.Manifest.Secrets.LookupEnv = func(k string) (string, bool) {
			if k == "SECOND_CLIENT_SECRET" {
				return second.ClientSecret, true
			}
			return lookup(k)
		}
		if openStore != nil {
			st = openStore(cfg)
			cfg.Store = st
		}
	})
	if st != nil {
		e.store = st
	}
	providers := map[string]*fakeprovider.Provider{"fakeoauth": e.provider, "fakeoauth2": second}

	// n connections over n users, half on each provider, expiring over one
	// minute centred on now (the refresh margin is a minute: all are due).
	type conn struct{ user, integration, refresh string }
	conns := make([]conn, n)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				integration := []string{"fakeoauth", "fakeoauth2"}[i%2]
				at, rt := providers[integration].IssueTokens(time.Hour)
				c := &connection.Connection{ProjectID: "dev", UserID: fmt.Sprintf("storm-%05d", i), IntegrationID: integration,
					Status: connection.StatusValid, ExpiresAt: start.Add(-30*time.Second + time.Duration(i)*time.Minute/time.Duration(n)),
					Credential: connection.Credential{AccessToken: at, RefreshToken: rt, TokenType: "Bearer"}}
				if err := e.store.Create(context.Background(), c); err != nil {
					errs <- err
					return
				}
				conns[i] = conn{c.UserID, integration, rt}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d connections stored in %v", n, time.Since(start).Round(time.Millisecond))

	// Steady load: every connection is asked for twice, in random order,
	// by 64 clients at once. Token requests are held until both providers
	// have the cap's worth in flight and the gateway reports refreshes
	// queueing for a slot: without the cap, far more would arrive.
	for _, p := range providers {
		p.TokenGate = make(chan struct{})
	}
	openGates := sync.OnceFunc(func() {
		for _, p := range providers {
			close(p.TokenGate)
		}
	})
	t.Cleanup(openGates) // before the providers close, should the test fail early
	order := make([]int, 0, 2*n)
	for i := range n {
		order = append(order, i, i)
	}
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	tokens := make([]string, n)
	for i := range n {
		tokens[i] = e.token(conns[i].user)
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(client.CloseIdleConnections)
	work := make(chan int)
	failures := make(chan string, 2*n)
	loadStart := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				req, _ := http.NewRequest("GET", e.base+"/projects/dev/sdk/proxy/custom/"+conns[i].integration+"/me", nil)
				req.Header.Set("Authorization", "Bearer "+tokens[i])
				resp, err := client.Do(req)
				if err != nil {
					failures <- fmt.Sprintf("%s: %v", conns[i].user, err)
					continue
				}
				if resp.StatusCode != 200 {
					failures <- fmt.Sprintf("%s: %d", conns[i].user, resp.StatusCode)
				}
				_ = resp.Body.Close()
			}
		}()
	}
	go func() {
		for _, i := range order {
			work <- i
		}
		close(work)
	}()
	testfix.EventuallySaw(t, "both providers at the refresh cap with refreshes queued", func() (bool, string) {
		_, body, _ := e.get("/metrics", false)
		saw := fmt.Sprintf("in flight at the providers %d, %d; waiting %v, %v", e.provider.TokenInFlight.Load(), second.TokenInFlight.Load(),
			metricValue(string(body), `plugboard_token_refreshes_waiting{integration="fakeoauth"}`),
			metricValue(string(body), `plugboard_token_refreshes_waiting{integration="fakeoauth2"}`))
		return e.provider.TokenInFlight.Load() == slots && second.TokenInFlight.Load() == slots &&
			metricValue(string(body), `plugboard_token_refreshes_waiting{integration="fakeoauth"}`) >= 1 &&
			metricValue(string(body), `plugboard_token_refreshes_waiting{integration="fakeoauth2"}`) >= 1, saw
	})
	// One more connection, whose token is due for a refresh but still good
	// for 45 s: its request is served at once although every slot is taken.
	validAT, validRT := e.provider.IssueTokens(time.Hour)
	valid := &connection.Connection{ProjectID: "dev", UserID: "storm-valid", IntegrationID: "fakeoauth", Status: connection.StatusValid,
		ExpiresAt: time.Now().Add(45 * time.Second), Credential: connection.Credential{AccessToken: validAT, RefreshToken: validRT, TokenType: "Bearer"}}
	if err := e.store.Create(context.Background(), valid); err != nil {
		t.Fatal(err)
	}
	quick := &http.Client{Timeout: 15 * time.Second}
	req, _ := http.NewRequest("GET", e.base+"/projects/dev/sdk/proxy/custom/fakeoauth/me", nil)
	req.Header.Set("Authorization", "Bearer "+e.token("storm-valid"))
	resp, err := quick.Do(req)
	if err != nil {
		t.Fatalf("a request whose token is still valid waited for a refresh slot: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a request whose token is still valid, every slot taken: %d", resp.StatusCode)
	}
	openGates()
	wg.Wait()
	close(failures)
	t.Logf("%d requests over %d expired connections in %v", 2*n, n, time.Since(loadStart).Round(time.Millisecond))
	failed := 0
	for f := range failures {
		if failed++; failed <= 5 {
			t.Errorf("request failed: %s", f)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d requests failed", failed, 2*n)
	}

	// Refreshes of tokens that were still valid may still be running.
	want := map[string]int64{"fakeoauth": int64(n/2) + 1, "fakeoauth2": int64(n / 2)}
	testfix.EventuallySaw(t, "the background refreshes done", func() (bool, string) {
		_, body, _ := e.get("/metrics", false)
		busy := 0.0
		for id := range providers {
			busy += metricValue(string(body), `plugboard_token_refreshes_in_flight{integration="`+id+`"}`) +
				metricValue(string(body), `plugboard_token_refreshes_waiting{integration="`+id+`"}`)
		}
		return busy == 0, fmt.Sprintf("%v refreshes in flight or waiting", busy)
	})
	if uses := e.provider.RefreshUses(validRT); uses != 1 {
		t.Errorf("the connection served with its still-valid token: refresh token presented %d times, want once", uses)
	}
	for id, p := range providers {
		if got := p.MaxTokenInFlight.Load(); got > slots {
			t.Errorf("%s: %d token requests at once, cap %d", id, got, slots)
		}
		if got := p.TokenCalls.Load(); got != want[id] {
			t.Errorf("%s: %d token requests for %d connections, want one each", id, got, want[id])
		}
	}
	for _, c := range conns {
		if uses := providers[c.integration].RefreshUses(c.refresh); uses != 1 {
			t.Fatalf("%s: its refresh token was presented %d times, want once", c.user, uses)
		}
	}
	_, body, _ := e.get("/metrics", false)
	for id := range providers {
		if got := metricValue(string(body), `plugboard_token_refreshes_total{integration="`+id+`",result="success"}`); got != float64(want[id]) {
			t.Errorf("%s: %v successful refreshes counted, want %d", id, got, want[id])
		}
		if got := metricValue(string(body), `plugboard_token_refreshes_in_flight{integration="`+id+`"}`); got != 0 {
			t.Errorf("%s: %v refreshes still counted in flight", id, got)
		}
		if got := metricValue(string(body), `plugboard_token_refresh_waits_total{integration="`+id+`"}`); got < 1 {
			t.Errorf("%s: no refresh counted as waiting for a slot", id)
		}
	}
	// The rotated refresh token was stored: the next refresh would work.
	for _, c := range conns[:10] {
		got, err := e.store.Default(context.Background(), "dev", c.user, c.integration)
		if err != nil {
			t.Fatal(err)
		}
		if got.Credential.RefreshToken == c.refresh || !providers[c.integration].RefreshTokenLive(got.Credential.RefreshToken) {
			t.Errorf("%s: the rotated refresh token was not stored", c.user)
		}
	}
}

// metricValue is the value of one series in a Prometheus text exposition,
// -1 when it is absent.
func metricValue(exposition, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// postgresTestDSN makes a schema of the test's own in
// PLUGBOARD_TEST_POSTGRES, or skips the test when it is not set.
func postgresTestDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("PLUGBOARD_TEST_POSTGRES")
	if base == "" {
		t.Skip("PLUGBOARD_TEST_POSTGRES not set: skipping (.ci/run starts a server and sets it)")
	}
	schema := "growth_" + strconv.FormatUint(rand.Uint64(), 36)
	exec := func(sql string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatalf("connecting to PLUGBOARD_TEST_POSTGRES: %v", err)
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("CREATE SCHEMA " + schema)
	t.Cleanup(func() { exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal("PLUGBOARD_TEST_POSTGRES is not a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
