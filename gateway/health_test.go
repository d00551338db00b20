package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/gateway/webhook"
)

// fakeClock is the health schedule's clock: each advance by the interval
// makes every connection due once more.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// withHealthChecks asks for a check of fakekey's and fakeoauth's
// connections every 5 minutes of clock, the schedule running every 50ms,
// with webhooks to sink.
func withHealthChecks(t *testing.T, sink *hookSink, url string, clock *fakeClock) func(*Config) {
	return func(c *Config) {
		withHooks(sink, url, time.Hour)(c)
		c.HealthNow = clock.Now
		c.HealthTick = 50 * time.Millisecond
		for _, name := range []string{"fakekey.yaml", "fakeoauth.yaml"} {
			path := filepath.Join(c.ManifestDir, name)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, strings.TrimRight(string(b), "\n")+"\n  healthCheck:\n    interval: 5m\n")
		}
	}
}

func (e *proxyEnv) credentialStatus(user, integration string) string {
	e.t.Helper()
	r := e.do("GET", "/projects/dev/sdk/me", e.token(user), nil, nil)
	if r.status != 200 {
		e.t.Fatalf("/sdk/me: %d %s", r.status, r.body)
	}
	var me struct {
		Integrations map[string]map[string]any `json:"integrations"`
	}
	if err := json.Unmarshal([]byte(r.body), &me); err != nil {
		e.t.Fatal(err)
	}
	s, _ := me.Integrations["custom."+integration]["credentialStatus"].(string)
	return s
}

func (e *proxyEnv) onlyConnection(user, integration string) *connection.Connection {
	e.t.Helper()
	c, err := e.store.Default(context.Background(), "dev", user, integration)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestHealthCheckRevokedKey: the provider deletes a user's API key; the
// next health check marks the connection, the app hears
// connection.health_changed, /sdk/me says INVALID and the admin API shows
// the error; when the provider accepts the key again, all goes back.
func TestHealthCheckRevokedKey(t *testing.T) {
	sink, url := startHookSink(t)
	clock := &fakeClock{now: time.Now()}
	e := startProxyEnvWith(t, withHealthChecks(t, sink, url, clock))
	e.connectKey("ivy", "fakekey", "key-ivy")
	id := e.onlyConnection("ivy", "fakekey").ID
	checked := func(after time.Time) func() bool {
		return func() bool {
			c := e.onlyConnection("ivy", "fakekey")
			return c.LastCheckedAt.After(after)
		}
	}

	start := time.Now()
	clock.advance(5 * time.Minute)
	testfix.Eventually(t, "first health check", checked(start))
	if d := e.adminDetail(id); d.HealthCheck == nil || !d.HealthCheck.OK || d.HealthCheck.LastOKAt == nil {
		t.Errorf("admin after a passed check: %+v", d.HealthCheck)
	}
	if s := e.credentialStatus("ivy", "fakekey"); s != "VALID" {
		t.Errorf("credentialStatus %q after a passed check, want VALID", s)
	}

	e.provider.RemoveAPIKey("key-ivy")
	mark := time.Now()
	clock.advance(5 * time.Minute)
	testfix.Eventually(t, "health check after the key was deleted", checked(mark))
	testfix.Eventually(t, "connection.health_changed delivered", func() bool { return sink.ofType(webhook.ConnectionHealthChanged) == 1 })
	if s := e.credentialStatus("ivy", "fakekey"); s != "INVALID" {
		t.Errorf("credentialStatus %q after a failed check, want INVALID", s)
	}
	d := e.adminDetail(id)
	if d.HealthCheck == nil || d.HealthCheck.OK || !strings.Contains(d.HealthCheck.Error, "401") {
		t.Errorf("admin after a failed check: %+v", d.HealthCheck)
	}
	if m := e.metric("plugboard_health_checks_total"); !strings.Contains(m, `integration="fakekey",result="failed"} 1`) {
		t.Errorf("metric:\n%s", m)
	}

	e.provider.AddAPIKey("key-ivy")
	mark = time.Now()
	clock.advance(5 * time.Minute)
	testfix.Eventually(t, "health check after the key is accepted again", checked(mark))
	testfix.Eventually(t, "second connection.health_changed", func() bool { return sink.ofType(webhook.ConnectionHealthChanged) == 2 })
	if s := e.credentialStatus("ivy", "fakekey"); s != "VALID" {
		t.Errorf("credentialStatus %q after the API accepts the key again, want VALID", s)
	}
	sink.mu.Lock()
	var healthy []bool
	for _, ev := range sink.events {
		if ev.Type == webhook.ConnectionHealthChanged {
			if ev.Data.Healthy == nil || ev.Data.CredentialID != id || ev.Data.Integration.Type != "custom.fakekey" {
				t.Errorf("health_changed event %+v", ev)
				continue
			}
			healthy = append(healthy, *ev.Data.Healthy)
		}
	}
	sink.mu.Unlock()
	if len(healthy) != 2 || healthy[0] || !healthy[1] {
		t.Errorf("health_changed healthy = %v, want [false true]", healthy)
	}
}

// TestHealthCheckRevokedRefreshToken: the provider revokes a refresh
// token; the next health check ends in needs_reconnect with exactly one
// connection.refresh_failed (and no health_changed), and later checks
// leave the connection alone.
func TestHealthCheckRevokedRefreshToken(t *testing.T) {
	sink, url := startHookSink(t)
	clock := &fakeClock{now: time.Now()}
	e := startProxyEnvWith(t, withHealthChecks(t, sink, url, clock))
	conn := e.connectOAuth("hank", -time.Minute)
	e.provider.RotateRefreshTokens = true
	form := strings.NewReader("grant_type=refresh_token&refresh_token=" + conn.Credential.RefreshToken + "&client_id=" + e.provider.ClientID + "&client_secret=" + e.provider.ClientSecret)
	resp, err := http.Post(e.provider.URL+"/oauth/token", "application/x-www-form-urlencoded", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	clock.advance(5 * time.Minute)
	testfix.Eventually(t, "connection.refresh_failed delivered", func() bool { return sink.ofType(webhook.ConnectionRefreshFailed) == 1 })
	// The event leaves with the refresh's write; the check's result is
	// recorded just after it.
	testfix.Eventually(t, "the failed check recorded", func() bool { return e.onlyConnection("hank", "fakeoauth").CheckFailed() })
	c := e.onlyConnection("hank", "fakeoauth")
	if c.Status != connection.StatusNeedsReconnect || !c.CheckFailed() {
		t.Errorf("after the check: status %s, check error %q", c.Status, c.CheckError)
	}
	if s := e.credentialStatus("hank", "fakeoauth"); s != "INVALID" {
		t.Errorf("credentialStatus %q, want INVALID", s)
	}
	checkedAt := c.LastCheckedAt
	clock.advance(5 * time.Minute)
	time.Sleep(300 * time.Millisecond) // several schedule ticks
	if n := sink.ofType(webhook.ConnectionRefreshFailed); n != 1 {
		t.Errorf("%d refresh_failed events, want 1", n)
	}
	if n := sink.ofType(webhook.ConnectionHealthChanged); n != 0 {
		t.Errorf("%d health_changed events, want 0 (refresh_failed tells it)", n)
	}
	if c := e.onlyConnection("hank", "fakeoauth"); !c.LastCheckedAt.Equal(checkedAt) {
		t.Errorf("a connection that needs reconnecting was checked again")
	}
	if m := e.metric("plugboard_health_checks_total"); !strings.Contains(m, `integration="fakeoauth",result="needs_reconnect"} 1`) {
		t.Errorf("metric:\n%s", m)
	}
}

// TestWebhookTestFailed: a connect attempt whose credential test fails
// stores nothing and sends connection.test_failed, without the key; the
// passed test of the next attempt is recorded as the last health check.
func TestWebhookTestFailed(t *testing.T) {
	sink, url := startHookSink(t)
	e := startProxyEnvWith(t, withHooks(sink, url, time.Hour))
	e.provider.AddAPIKey("right-key")
	post := func(key string) response {
		return e.do("POST", "/projects/dev/sdk/credentials", e.token("kim"), strings.NewReader(`{"integrationId":"custom.fakekey","payload":{"api_key":"`+key+`"}}`),
			map[string]string{"Content-Type": "application/json"})
	}
	if r := post("wrong-key"); r.status != 400 {
		t.Fatalf("wrong key: %d %s", r.status, r.body)
	}
	testfix.Eventually(t, "connection.test_failed delivered", func() bool { return sink.ofType(webhook.ConnectionTestFailed) == 1 })
	sink.mu.Lock()
	for _, ev := range sink.events {
		if ev.Type != webhook.ConnectionTestFailed {
			continue
		}
		raw, _ := json.Marshal(ev)
		if ev.Data.UserID != "kim" || ev.Data.ProjectID != "dev" || ev.Data.Integration.Type != "custom.fakekey" ||
			!strings.Contains(ev.Data.Error, "401") || strings.Contains(string(raw), "wrong-key") {
			t.Errorf("test_failed event %s", raw)
		}
	}
	sink.mu.Unlock()
	if r := post("right-key"); r.status != 200 && r.status != 201 {
		t.Fatalf("right key: %d %s", r.status, r.body)
	}
	if c := e.onlyConnection("kim", "fakekey"); c.LastCheckedAt.IsZero() || c.CheckFailed() {
		t.Errorf("the connect test was not recorded as a passed check: %v %q", c.LastCheckedAt, c.CheckError)
	}
}

// TestHealthCheckRefreshesARefreshTokenBeforeItLapses: a refresh token that
// would expire unused before the check after next is used at this check
// (the access token still being valid), and the new one's lifetime is
// kept; one that lasts long enough is left alone.
func TestHealthCheckRefreshesARefreshTokenBeforeItLapses(t *testing.T) {
	sink, url := startHookSink(t)
	clock := &fakeClock{now: time.Now()}
	e := startProxyEnvWith(t, withHealthChecks(t, sink, url, clock))
	e.provider.RefreshTokenLifetime = 90 * 24 * time.Hour
	connect := func(user string, refreshLeft time.Duration) *connection.Connection {
		at, rt := e.provider.IssueTokens(time.Hour)
		c := &connection.Connection{ProjectID: "dev", UserID: user, IntegrationID: "fakeoauth", Status: connection.StatusValid,
			Credential: connection.Credential{AccessToken: at, RefreshToken: rt, TokenType: "Bearer", RefreshExpiresAt: time.Now().Add(refreshLeft)},
			ExpiresAt:  time.Now().Add(time.Hour)}
		if err := e.store.Create(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	lapsing := connect("ivy", 8*time.Minute) // the checks are 5 minutes apart
	lasting := connect("jay", 30*24*time.Hour)

	clock.advance(5 * time.Minute)
	testfix.Eventually(t, "ivy's refresh token renewed at the check", func() bool {
		c := e.onlyConnection("ivy", "fakeoauth")
		return c.Credential.RefreshToken != lapsing.Credential.RefreshToken
	})
	c := e.onlyConnection("ivy", "fakeoauth")
	if left := time.Until(c.Credential.RefreshExpiresAt); left < 89*24*time.Hour {
		t.Errorf("the new refresh token expires in %s, want the provider's 90 days", left)
	}
	if c.Credential.AccessToken == lapsing.Credential.AccessToken || c.Status != connection.StatusValid {
		t.Errorf("after the check: status %s, access token unchanged: %v", c.Status, c.Credential.AccessToken == lapsing.Credential.AccessToken)
	}
	testfix.Eventually(t, "jay checked", func() bool { return !e.onlyConnection("jay", "fakeoauth").LastCheckedAt.IsZero() })
	if j := e.onlyConnection("jay", "fakeoauth"); j.Credential.RefreshToken != lasting.Credential.RefreshToken || j.Credential.AccessToken != lasting.Credential.AccessToken {
		t.Error("a refresh token with a month left was refreshed at the check")
	}
}
