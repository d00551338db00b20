// Package replicatest runs several real gateway processes sharing one
// PostgreSQL behind a small test load balancer, as teams deploy them. It
// needs PLUGBOARD_TEST_POSTGRES (a DSN; .ci/run starts a server) and skips
// without it.
package replicatest

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/internal/fakeprovider"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

func TestMain(m *testing.M) {
	if os.Getenv("PLUGBOARD_TEST_POSTGRES") == "" {
		fmt.Println("PLUGBOARD_TEST_POSTGRES not set: skipping the multi-replica tests (.ci/run starts a server and sets it)")
		os.Exit(0)
	}
	os.Exit(testfix.Run(m))
}

// cluster is N gateway processes on one PostgreSQL schema, a fake provider,
// and a round-robin load balancer in front whose rotation the test controls.
type cluster struct {
	t        *testing.T
	dsn      string
	dir      string
	env      []string
	provider *fakeprovider.Provider
	store    store.Store
	keyring  *seal.Keyring
	key      crypto.Signer
	kid      string
	lb       *httptest.Server

	mu       sync.Mutex
	replicas []*replica // in rotation
	next     atomic.Uint64
}

// replica is one gateway process and its base URL.
type replica struct {
	*testfix.Process
	base string
}

const manifestTmpl = `id: fakeoauth
name: Fake OAuth
description: OAuth provider stand-in.
auth:
  type: oauth2
  oauth2:
    authorizationUrl: %[1]s/oauth/authorize
    tokenUrl: %[1]s/oauth/token
    clientId: ${FAKE_CLIENT_ID}
    clientSecret: ${FAKE_CLIENT_SECRET}
api:
  baseUrl: %[1]s/api
  testEndpoint: /me
`

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), provider: fakeprovider.New()}
	t.Cleanup(c.provider.Close)
	c.dsn = freshDatabase(t, os.Getenv("PLUGBOARD_TEST_POSTGRES"))
	entry, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeyring(entry)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenPostgres(context.Background(), c.dsn, kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c.store, c.keyring = st, kr
	key, err := usertoken.GenerateRSA(2048)
	if err != nil {
		t.Fatal(err)
	}
	c.key = key
	c.kid, _ = usertoken.KeyID(key.Public())
	pub, _ := usertoken.EncodePublicKeyPEM(key.Public())
	pubFile := filepath.Join(c.dir, "project.pub.pem")
	if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(c.dir, "integrations.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, "integrations.d", "fakeoauth.yaml"), []byte(fmt.Sprintf(manifestTmpl, c.provider.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.lb = httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			r := c.pick()
			u, _ := url.Parse(r.base)
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "load balancer: "+err.Error(), http.StatusBadGateway)
		},
	})
	t.Cleanup(c.lb.Close)
	c.env = append(os.Environ(), "PLUGBOARD_ENCRYPTION_KEYS="+entry, "PLUGBOARD_ADMIN_TOKEN=replica-admin-token-0123456789",
		"PLUGBOARD_PROJECT_KEYS="+pubFile, "PLUGBOARD_STORE="+c.dsn, "PLUGBOARD_PUBLIC_URL="+c.lb.URL,
		"FAKE_CLIENT_ID="+c.provider.ClientID, "FAKE_CLIENT_SECRET="+c.provider.ClientSecret)
	return c
}

// freshDatabase returns a DSN for a new, empty database on the server dsn
// names. A database of its own (not a schema) keeps these processes'
// sessions and locks apart from other packages' PostgreSQL tests running at
// the same time, which inspect and terminate sessions of their database.
func freshDatabase(t *testing.T, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "replicas_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to PLUGBOARD_TEST_POSTGRES: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
			_ = c.Close(context.Background())
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// start runs one more replica and waits until it is ready; it is not in
// the load balancer's rotation until add.
func (c *cluster) start() *replica {
	c.t.Helper()
	cmd := exec.Command(testfix.Plugboard(c.t), "serve", "--mode", "production", "--listen", "127.0.0.1:0", "--manifests", filepath.Join(c.dir, "integrations.d"),
		"--data", c.t.TempDir(), "--log-format", "json", "--shutdown-grace", "10s", "--poll-interval", "0s",
		"--egress-allow", "127.0.0.0/8") // the fake provider listens on 127.0.0.1
	cmd.Env = c.env
	r := &replica{Process: testfix.Start(c.t, cmd)}
	r.base = "http://" + r.Listening()
	testfix.Eventually(c.t, "the replica ready (GET /readyz 200)", func() bool {
		resp, err := http.Get(r.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return r
}

func (c *cluster) add(r *replica) {
	c.mu.Lock()
	c.replicas = append(c.replicas, r)
	c.mu.Unlock()
}

func (c *cluster) remove(r *replica) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.replicas {
		if x == r {
			c.replicas = append(c.replicas[:i], c.replicas[i+1:]...)
			return
		}
	}
}

func (c *cluster) pick() *replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replicas[int(c.next.Add(1))%len(c.replicas)]
}

func (c *cluster) token(user string) string {
	tok, err := usertoken.Mint(c.key, c.kid, "dev", user, time.Hour, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

// connect stores an OAuth connection whose access token expires after lifetime.
func (c *cluster) connect(user string, lifetime time.Duration) *connection.Connection {
	at, rt := c.provider.IssueTokens(lifetime)
	conn := &connection.Connection{ProjectID: "dev", UserID: user, IntegrationID: "fakeoauth", Status: connection.StatusValid,
		Credential: connection.Credential{AccessToken: at, RefreshToken: rt, TokenType: "Bearer"}, ExpiresAt: time.Now().Add(lifetime)}
	if err := c.store.Create(context.Background(), conn); err != nil {
		c.t.Fatal(err)
	}
	return conn
}

func get(base, path, token string) (int, string, error) {
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestRefreshStormAcrossReplicas: 300 concurrent proxied requests spread
// over three replicas on an expired token make exactly one call to the
// token endpoint, and all succeed.
func TestRefreshStormAcrossReplicas(t *testing.T) {
	c := newCluster(t)
	c.provider.TokenDelay = 100 * time.Millisecond
	rs := []*replica{c.start(), c.start(), c.start()}
	conn := c.connect("storm", -time.Minute)
	tok := c.token("storm")
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, body, err := get(rs[i%3].base, "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok)
			if err != nil || code != 200 {
				failed.Add(1)
				t.Logf("request %d: %d %s %v", i, code, body, err)
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of 300 requests failed", n)
	}
	if n := c.provider.TokenCalls.Load(); n != 1 {
		t.Fatalf("%d calls to the token endpoint, want exactly 1", n)
	}
	stored, err := c.store.Get(context.Background(), "dev", "storm", conn.ID)
	if err != nil || !c.provider.RefreshTokenLive(stored.Credential.RefreshToken) || c.provider.RefreshTokenLive(conn.Credential.RefreshToken) {
		t.Fatalf("the rotated refresh token was not stored: %v", err)
	}
	t.Logf("300 requests over 3 replicas on an expired token: 1 token call, all 200, %s", elapsed.Round(time.Millisecond))
}

// TestKilledLockHolderIsTakenOver: kill -9 of the replica refreshing (it
// holds the lock, its token request is in flight): another replica takes
// over, and no refresh token is lost.
func TestKilledLockHolderIsTakenOver(t *testing.T) {
	c := newCluster(t)
	c.provider.TokenDelay = 1500 * time.Millisecond
	a, b := c.start(), c.start()
	conn := c.connect("victim", -time.Minute)
	tok := c.token("victim")
	go func() { _, _, _ = get(a.base, "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok) }()
	testfix.Eventually(t, "replica A calling the token endpoint", func() bool { return c.provider.TokenCalls.Load() > 0 })
	if err := a.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.Done()
	code, body, err := get(b.base, "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok)
	if err != nil || code != 200 {
		t.Fatalf("replica B after A was killed: %d %s %v\n%s", code, body, err, b.Stderr)
	}
	stored, err := c.store.Get(context.Background(), "dev", "victim", conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != connection.StatusValid || !c.provider.RefreshTokenLive(stored.Credential.RefreshToken) {
		t.Fatalf("after the takeover the stored refresh token is not live (status %s): a token was lost", stored.Status)
	}
	t.Logf("A killed during its token request; B refreshed (%d token calls), the stored refresh token is live", c.provider.TokenCalls.Load())
}

// TestRollingRestartUnderLoad restarts all three replicas one after the
// other, as a Deployment does (out of rotation, SIGTERM, a new one ready,
// back in rotation), while clients call the proxy through the load
// balancer: no request may fail.
func TestRollingRestartUnderLoad(t *testing.T) {
	c := newCluster(t)
	for i := 0; i < 3; i++ {
		c.add(c.start())
	}
	c.connect("steady", time.Hour)
	tok := c.token("steady")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := get(c.lb.URL, "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok)
				if err != nil || code != 200 {
					failed.Add(1)
					t.Logf("failed: %d %s %v", code, body, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	c.mu.Lock()
	old := append([]*replica(nil), c.replicas...)
	c.mu.Unlock()
	for _, r := range old {
		next := c.start()
		c.add(next)
		c.remove(r)
		time.Sleep(50 * time.Millisecond) // the endpoint leaves the rotation before SIGTERM (preStop)
		_ = r.Cmd.Process.Signal(syscall.SIGTERM)
		if code := r.Wait(15 * time.Second); code != 0 {
			t.Errorf("replica exited %d on SIGTERM", code)
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed during the rolling restart (%d succeeded)", failed.Load(), ok.Load())
	}
	t.Logf("rolling restart of 3 replicas: %d requests, 0 failed", ok.Load())
}

// TestChangesReachOtherReplicasQuickly: a disconnect through one replica is
// seen by another, which had the connection cached, within a second.
func TestChangesReachOtherReplicasQuickly(t *testing.T) {
	c := newCluster(t)
	a, b := c.start(), c.start()
	conn := c.connect("mover", time.Hour)
	tok := c.token("mover")
	if code, body, _ := get(a.base, "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok); code != 200 {
		t.Fatalf("warm A's cache: %d %s", code, body)
	}
	req, _ := http.NewRequest("DELETE", b.base+"/projects/dev/sdk/credentials/"+conn.ID, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("disconnect through B: %v %v", resp, err)
	}
	resp.Body.Close()
	start := time.Now()
	for {
		code, _, _ := get(a.base, "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok)
		if code == 404 {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("replica A still serves the disconnected credential after %s", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("disconnect on B seen by A after %s", time.Since(start).Round(time.Millisecond))
}

// TestConnectAcrossReplicas: a connect link made on one replica, opened on
// another, and the OAuth callback served by a third all work (shared
// tickets, sealed cookies with the shared key), through the load balancer.
func TestConnectAcrossReplicas(t *testing.T) {
	c := newCluster(t)
	for i := 0; i < 3; i++ {
		c.add(c.start())
	}
	tok := c.token("roamer")
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	// The link (replica 1), the portal (2), the form (3), the callback (1).
	req, _ := http.NewRequest("POST", c.lb.URL+"/projects/dev/sdk/connect-links", strings.NewReader(`{"integrationId":"custom.fakeoauth"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	link := regexp.MustCompile(`"url": "([^"]+)"`).FindStringSubmatch(string(body))
	if link == nil {
		t.Fatalf("connect link: %s", body)
	}
	page := mustGet(t, client, link[1])
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("portal page: %s", page)
	}
	resp, err = client.PostForm(c.lb.URL+"/connect/portal/fakeoauth", url.Values{"csrf": {csrf[1]}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`data-redirect="([^"]+)"`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no redirect: %s", body)
	}
	authURL := strings.ReplaceAll(m[1], "&amp;", "&")
	login := mustGet(t, client, authURL)
	form := url.Values{"username": {"octo"}, "password": {"hunter2"}, "decision": {"allow"}}
	for _, h := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(login, -1) {
		form.Set(h[1], strings.ReplaceAll(h[2], "&amp;", "&"))
	}
	resp, err = client.PostForm(c.provider.URL+"/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Fake OAuth is connected") {
		t.Fatalf("callback through the load balancer: %d %s", resp.StatusCode, body)
	}
	if code, b, _ := get(c.lb.URL, "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok); code != 200 {
		t.Fatalf("proxied call: %d %s", code, b)
	}
}

func mustGet(t *testing.T, client *http.Client, u string) string {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}
