package connection_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/store/storetest"
	"github.com/plugboardhq/plugboard/manifest"
)

// gatedProvider is a token endpoint that holds every refresh until
// released, and rotates the refresh token it is given.
type gatedProvider struct {
	entered chan string // the refresh token of each refresh that reached it
	release chan struct{}
	once    sync.Once
}

func (p *gatedProvider) Refresh(ctx context.Context, _ *manifest.Integration, cred connection.Credential) (connection.Credential, time.Time, error) {
	p.entered <- cred.RefreshToken
	select {
	case <-p.release:
	case <-ctx.Done():
		return connection.Credential{}, time.Time{}, ctx.Err()
	}
	return connection.Credential{AccessToken: "new-" + cred.RefreshToken, RefreshToken: cred.RefreshToken + "-rotated", TokenType: "Bearer"},
		time.Now().Add(time.Hour), nil
}

func (p *gatedProvider) open() { p.once.Do(func() { close(p.release) }) }

// TestShutdownWaitsForBackgroundRefreshes: a refresh begun in the
// background (its token still valid, every refresh slot taken) is waited
// for by Shutdown, which gives up when its context ends; once shutting
// down, no new background refresh starts.
func TestShutdownWaitsForBackgroundRefreshes(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "plugboard.db"), storetest.Keyring(t, storetest.Key(t, "k1")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	provider := &gatedProvider{entered: make(chan string, 4), release: make(chan struct{})}
	defer provider.open()
	r := &connection.Refresher{Store: st, OAuth: provider, MaxConcurrentRefreshes: 1}
	in := &manifest.Integration{ID: "prov", Auth: manifest.AuthConfig{Type: manifest.AuthOAuth2, OAuth2: &manifest.OAuth2Config{RefreshMargin: time.Minute}}}
	conn := func(user string, expiresIn time.Duration) *connection.Connection {
		c := &connection.Connection{ProjectID: "p1", UserID: user, IntegrationID: "prov", Status: connection.StatusValid,
			ExpiresAt: time.Now().Add(expiresIn), Credential: connection.Credential{AccessToken: "at-" + user, RefreshToken: "rt-" + user}}
		if err := st.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}

	// An expired token takes the only slot; its request waits for it.
	expired := conn("expired", -time.Minute)
	foreground := make(chan error, 1)
	go func() {
		_, err := r.Fresh(ctx, in, expired, "")
		foreground <- err
	}()
	if got := <-provider.entered; got != "rt-expired" {
		t.Fatalf("first refresh: %s", got)
	}
	// A token due for a refresh but good for 30 s more is used at once,
	// and refreshed in the background once the slot is free.
	ahead := conn("ahead", 30*time.Second)
	if got, err := r.Fresh(ctx, in, ahead, ""); err != nil || got.Credential.AccessToken != "at-ahead" {
		t.Fatalf("Fresh with every slot taken: %v %v", got, err)
	}

	// Shutdown waits for that refresh, and gives up with its context.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.Shutdown(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with a background refresh waiting for its slot: %v, want it to wait until its context ends", err)
	}
	// Shutting down, a token due for a refresh is still served, and no
	// background refresh starts for it.
	late := conn("late", 30*time.Second)
	if got, err := r.Fresh(ctx, in, late, ""); err != nil || got.Credential.AccessToken != "at-late" {
		t.Fatalf("Fresh while shutting down: %v %v", got, err)
	}

	provider.open()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Shutdown returned once the background refresh had stored its
	// rotated token.
	stored, err := st.Get(ctx, "p1", "ahead", ahead.ID)
	if err != nil || stored.Credential.RefreshToken != "rt-ahead-rotated" || stored.Credential.AccessToken != "new-rt-ahead" {
		t.Fatalf("after Shutdown, the background refresh's connection: %+v %v", stored, err)
	}
	if err := <-foreground; err != nil {
		t.Errorf("the expired token's refresh: %v", err)
	}
	close(provider.entered)
	var refreshed []string
	for rt := range provider.entered {
		refreshed = append(refreshed, rt)
	}
	if len(refreshed) != 1 || refreshed[0] != "rt-ahead" {
		t.Errorf("refreshes after the first: %v, want only rt-ahead's (none began after Shutdown)", refreshed)
	}
	if stored, _ := st.Get(ctx, "p1", "late", late.ID); stored.Credential.RefreshToken != "rt-late" {
		t.Errorf("a background refresh began after Shutdown: %+v", stored.Credential)
	}
}
