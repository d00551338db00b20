package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// TestShutdownWaitsForBackgroundRefresh: a token refresh begun in the
// background (its token still valid, the integration's only refresh slot
// taken) is finished, and its rotated refresh token stored, before Serve
// returns from its shutdown.
func TestShutdownWaitsForBackgroundRefresh(t *testing.T) {
	e := startProxyEnvWith(t, func(cfg *Config) {
		cfg.Limits.MaxConcurrentRefreshes = 1
		cfg.ShutdownGrace = time.Minute
	})
	ctx := context.Background()
	newConn := func(user string, expiresIn time.Duration) (*connection.Connection, string) {
		at, rt := e.provider.IssueTokens(time.Hour)
		c := &connection.Connection{ProjectID: "dev", UserID: user, IntegrationID: "fakeoauth", Status: connection.StatusValid,
			ExpiresAt: time.Now().Add(expiresIn), Credential: connection.Credential{AccessToken: at, RefreshToken: rt, TokenType: "Bearer"}}
		if err := e.store.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c, rt
	}
	_, expiredRT := newConn("sd-expired", -time.Minute)
	ahead, aheadRT := newConn("sd-ahead", 30*time.Second)
	// Token requests wait at the provider until the gate opens, then take
	// a moment each: the background refresh is still at the provider
	// when the requests have drained.
	e.provider.TokenGate = make(chan struct{})
	e.provider.TokenDelay = 300 * time.Millisecond
	gate := e.provider.TokenGate
	defer func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	}()

	// The expired connection's request takes the only slot, and waits.
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", e.base+"/projects/dev/sdk/proxy/custom/fakeoauth/me", nil)
		req.Header.Set("Authorization", "Bearer "+e.token("sd-expired"))
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			t.Error(err)
			first <- 0
			return
		}
		_ = resp.Body.Close()
		first <- resp.StatusCode
	}()
	testfix.Eventually(t, "the expired connection's refresh at the provider", func() bool { return e.provider.TokenInFlight.Load() == 1 })
	// The still-valid one is served at once; its refresh waits in the background.
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", e.token("sd-ahead"), nil, nil); r.status != 200 {
		t.Fatalf("a request whose token is still valid, the slot taken: %d %s", r.status, r.body)
	}

	stopped := make(chan struct{})
	go func() { e.stop(); close(stopped) }()
	close(gate)
	<-stopped
	if status := <-first; status != 200 {
		t.Errorf("the expired connection's request: %d", status)
	}
	if uses := e.provider.RefreshUses(expiredRT); uses != 1 {
		t.Errorf("the expired connection's refresh token was presented %d times, want once", uses)
	}
	if uses := e.provider.RefreshUses(aheadRT); uses != 1 {
		t.Fatalf("when Serve returned, the background refresh had presented its refresh token %d times, want once", uses)
	}
	stored, err := e.store.Get(ctx, "dev", "sd-ahead", ahead.ID)
	if err != nil || stored.Credential.RefreshToken == aheadRT {
		t.Errorf("when Serve returned, the background refresh's rotated token was not stored: %v", err)
	}
}
