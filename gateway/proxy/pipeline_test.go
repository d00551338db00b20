package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/manifest"
)

// fakeCreds is Credentials with one connection whose token a forced
// refresh replaces by token-2, token-3…
type fakeCreds struct {
	mu        sync.Mutex
	conn      *connection.Connection
	forced    int
	noRetry   bool          // Retry401 says no (within the cooldown)
	refreshed chan struct{} // one value per forced refresh
}

func newFakeCreds(token string) *fakeCreds {
	return &fakeCreds{
		conn: &connection.Connection{ID: "c1", ProjectID: "p", UserID: "u", IntegrationID: "tok",
			Credential: connection.Credential{AccessToken: token, TokenType: "Bearer", Inputs: map[string]string{"api_key": token}}},
		refreshed: make(chan struct{}, 8),
	}
}

func (f *fakeCreds) Default(ctx context.Context, projectID, userID, integrationID string) (*connection.Connection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil {
		return nil, connection.ErrNotConnected
	}
	return f.conn, nil
}

func (f *fakeCreds) Fresh(ctx context.Context, in *manifest.Integration, conn *connection.Connection, stale string) (*connection.Connection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stale != "" && stale == f.conn.Credential.AccessToken {
		f.forced++
		c := *f.conn
		c.Credential.AccessToken = fmt.Sprintf("token-%d", f.forced+1)
		f.conn = &c
		f.refreshed <- struct{}{}
	}
	return f.conn, nil
}

func (f *fakeCreds) Retry401(ctx context.Context, conn *connection.Connection) bool {
	return !f.noRetry
}

func (f *fakeCreds) forcedRefreshes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forced
}

// upstream is an API on 127.0.0.1 that accepts only the bearer token
// want (401 otherwise) and records what it received.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	want  string
	got   []string     // "Authorization body" per request
	conns atomic.Int32 // connections accepted
}

func newUpstream(t *testing.T, want string) *upstream {
	u := &upstream{want: want}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.got = append(u.got, r.Header.Get("Authorization")+" "+string(body))
		ok := r.Header.Get("Authorization") == "Bearer "+u.want
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"message":"Bad credentials"}`)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	u.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.got...)
}

const tokenManifest = `id: tok
name: Token API
description: An API with OAuth tokens.
auth:
  type: oauth2_client_credentials
  clientCredentials:
    tokenUrl: https://auth.example/token
api:
  baseUrl: %s/api
  timeout: %s
`

func testIntegration(t testing.TB, format string, args ...any) *manifest.Integration {
	t.Helper()
	in, probs := manifest.Parse("test.yaml", []byte(fmt.Sprintf(format, args...)), manifest.Options{})
	if probs.HasErrors(false) {
		t.Fatal(probs)
	}
	return in
}

type allowUsers struct{}

func (allowUsers) AuthenticateUser(w http.ResponseWriter, r *http.Request, projectID string) (string, bool) {
	return "u", true
}

type oneIntegration struct{ in *manifest.Integration }

func (o oneIntegration) Resolve(projectID, ref string) (*manifest.Integration, bool) {
	return o.in, ref == o.in.ID
}

// startProxy serves Route with h (its client dialling without the egress
// guard, which would refuse 127.0.0.1) and returns the proxy URL of in.
func startProxy(t *testing.T, h *Handler, in *manifest.Integration) string {
	t.Helper()
	if h.Transport == nil {
		client := NewClient(nil)
		t.Cleanup(client.CloseIdleConnections)
		h.Transport = client
	}
	h.Log = slog.New(slog.DiscardHandler)
	h.Init()
	gw := httptest.NewServer(&Route{Users: allowUsers{}, Integrations: oneIntegration{in}, Handler: h})
	t.Cleanup(gw.Close)
	return gw.URL + "/projects/p/sdk/proxy/custom/" + in.ID
}

func send(t *testing.T, method, url string, body io.Reader) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReplayAfter401CarriesTheNewToken(t *testing.T) {
	up := newUpstream(t, "token-2")
	in := testIntegration(t, tokenManifest, up.URL, "2s")
	creds := newFakeCreds("token-1")
	base := startProxy(t, &Handler{Credentials: creds}, in)
	status, body := send(t, "POST", base+"/things", strings.NewReader(`{"a":1}`))
	if status != 200 || body != `{"output":{"ok":true}}` {
		t.Fatalf("%d %s", status, body)
	}
	want := []string{`Bearer token-1 {"a":1}`, `Bearer token-2 {"a":1}`}
	if got := up.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("upstream got %q, want %q", got, want)
	}
	if n := creds.forcedRefreshes(); n != 1 {
		t.Errorf("%d forced refreshes, want 1", n)
	}
}

func TestReplayHappensOnce(t *testing.T) {
	up := newUpstream(t, "never")
	in := testIntegration(t, tokenManifest, up.URL, "2s")
	creds := newFakeCreds("token-1")
	base := startProxy(t, &Handler{Credentials: creds}, in)
	status, body := send(t, "GET", base+"/things", nil)
	if status != 401 || body != `{"message":"Bad credentials"}` {
		t.Fatalf("%d %s", status, body)
	}
	if got := up.requests(); len(got) != 2 || got[0] != "Bearer token-1 " || got[1] != "Bearer token-2 " {
		t.Errorf("upstream got %q, want one call and one replay", got)
	}
	if n := creds.forcedRefreshes(); n != 1 {
		t.Errorf("%d forced refreshes, want 1", n)
	}
}

func TestNoReplayWithinTheCooldown(t *testing.T) {
	up := newUpstream(t, "token-2")
	in := testIntegration(t, tokenManifest, up.URL, "2s")
	creds := newFakeCreds("token-1")
	creds.noRetry = true
	base := startProxy(t, &Handler{Credentials: creds}, in)
	if status, _ := send(t, "GET", base+"/things", nil); status != 401 {
		t.Fatalf("status %d, want the upstream's 401", status)
	}
	if got := up.requests(); len(got) != 1 || creds.forcedRefreshes() != 0 {
		t.Errorf("upstream got %q, %d refreshes", got, creds.forcedRefreshes())
	}
}

// A body the proxy did not keep (unknown length, or over 64 KiB) cannot be
// sent again: the 401 is passed on, and the token refreshed for the next call.
func TestNonReplayableBodyPasses401OnAndRefreshesInTheBackground(t *testing.T) {
	up := newUpstream(t, "token-2")
	in := testIntegration(t, tokenManifest, up.URL, "2s")
	creds := newFakeCreds("token-1")
	base := startProxy(t, &Handler{Credentials: creds}, in)
	bodies := map[string]func() io.Reader{
		"unknown length": func() io.Reader { return io.MultiReader(strings.NewReader(`{"a":1}`)) },
		"over 64 KiB":    func() io.Reader { return strings.NewReader(strings.Repeat("x", replayBodyBytes+1)) },
	}
	for name, body := range bodies {
		creds.mu.Lock()
		creds.conn.Credential.AccessToken, creds.forced = "token-1", 0
		creds.mu.Unlock()
		up.mu.Lock()
		up.got = nil
		up.mu.Unlock()
		status, _ := send(t, "POST", base+"/things", body())
		if status != 401 {
			t.Fatalf("%s: status %d, want the upstream's 401", name, status)
		}
		select {
		case <-creds.refreshed:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no refresh after the 401", name)
		}
		if got := up.requests(); len(got) != 1 {
			t.Errorf("%s: %d upstream calls, want 1 (no replay)", name, len(got))
		}
		if status, _ := send(t, "POST", base+"/things", body()); status != 200 {
			t.Errorf("%s: the next call: %d, want 200 with the refreshed token", name, status)
		}
	}
}

// An API key is never refreshed: its 401 is the API's answer.
func TestNoReplayWithoutTokens(t *testing.T) {
	up := newUpstream(t, "other")
	in := testIntegration(t, keyManifest, up.URL)
	creds := newFakeCreds("k")
	base := startProxy(t, &Handler{Credentials: creds}, in)
	if status, _ := send(t, "GET", base+"/things", nil); status != 401 || len(up.requests()) != 1 || creds.forcedRefreshes() != 0 {
		t.Errorf("status %d, %d upstream calls, %d refreshes", status, len(up.requests()), creds.forcedRefreshes())
	}
}

const keyManifest = `id: key
name: Key API
description: An API with a key.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
api:
  baseUrl: %s/api
  authorization:
    type: bearer
    token: "{{inputs.api_key}}"
`

// roundTripFunc is a transport made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// planned returns a request for in, as forward sends it.
func planned() *http.Request {
	return httptest.NewRequest("GET", "http://gateway/x", nil)
}

func TestTimeoutIsTypedAndCountsToTheHeaders(t *testing.T) {
	in := testIntegration(t, tokenManifest, "http://api.example", "50ms")
	slow := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	_, err := timedRoundTrip(slow, planned(), in.API.Timeout)
	var te *timeoutError
	if !errors.As(err, &te) || te.after != 50*time.Millisecond {
		t.Fatalf("err %v, want a timeoutError after 50ms", err)
	}
	h := &Handler{Log: slog.New(slog.DiscardHandler)}
	if e := h.apiError(context.Background(), in, &sendError{host: "api.example", err: err}); e.Status != 504 || e.Code != apierror.UpstreamTimeout || e.Message != "Token API did not answer within 50ms" {
		t.Errorf("answered %+v", e)
	}

	// Headers in time: the body may take longer, and the attempt's context
	// lives until the body is closed.
	var attempt context.Context
	quick := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		attempt = r.Context()
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
	})
	resp, err := timedRoundTrip(quick, planned(), in.API.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if attempt.Err() != nil {
		t.Fatalf("the attempt ended before its body was closed: %v", context.Cause(attempt))
	}
	resp.Body.Close()
	if attempt.Err() == nil {
		t.Error("the attempt's context outlives its body")
	}
}

// The upgrade handling type-asserts the 101's body to an
// io.ReadWriteCloser; the timeout's body wrapper must keep it one.
func TestSwitchingProtocolsBodyStaysReadWriteCloser(t *testing.T) {
	in := testIntegration(t, tokenManifest, "http://api.example", "1s")
	type rwc struct {
		io.Reader
		io.Writer
		io.Closer
	}
	upgraded := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 101, Body: rwc{strings.NewReader(""), io.Discard, io.NopCloser(nil)}, Request: r}, nil
	})
	resp, err := timedRoundTrip(upgraded, planned(), in.API.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resp.Body.(io.ReadWriteCloser); !ok {
		t.Fatalf("101 body is a %T", resp.Body)
	}
	resp.Body.Close()
}

// A websocket through the whole handler: the 101 is passed on and the
// tunnel carries bytes both ways.
func TestWebsocketTunnel(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			w.WriteHeader(400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo " + line)
		_ = brw.Flush()
	}))
	t.Cleanup(up.Close)
	in := testIntegration(t, keyManifest+"  websocket: true\n", up.URL)
	base := startProxy(t, &Handler{Credentials: newFakeCreds("k")}, in)
	req, _ := http.NewRequest("GET", base+"/stream", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	conn, ok := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != 101 || !ok {
		t.Fatalf("status %d, body %T", resp.StatusCode, resp.Body)
	}
	_, _ = io.WriteString(conn, "hello\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if line != "echo hello\n" {
		t.Errorf("through the tunnel: %q", line)
	}
}

func TestInjectionIsRenderedPerAttempt(t *testing.T) {
	in := testIntegration(t, keyManifest, "http://api.example")
	var got []string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.URL.String()+" "+r.Header.Get("Authorization"))
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	h := &Handler{Transport: base, Log: slog.New(slog.DiscardHandler)}
	h.Init()
	p := &plan{Request: Request{Integration: in}, start: time.Now(), dest: destination{path: "/users/me", query: "a=1"}}
	caller := planned()
	out := h.outgoing(caller, p)
	for _, key := range []string{"one", "two"} {
		before := caller.Header.Clone()
		if _, err := h.attempt(context.Background(), out, p, newFakeCreds(key).conn); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(caller.Header) != fmt.Sprint(before) || caller.URL.String() != "http://gateway/x" {
			t.Errorf("the attempt changed the caller's request: %v %v", caller.URL, caller.Header)
		}
	}
	want := []string{"http://api.example/api/users/me?a=1 Bearer one", "http://api.example/api/users/me?a=1 Bearer two"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sent %q, want %q", got, want)
	}
}

func TestErrorsMapToOneAPIError(t *testing.T) {
	in := testIntegration(t, keyManifest, "http://api.example")
	h := &Handler{Log: slog.New(slog.DiscardHandler), MaxBodyBytes: 10}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		ctx    context.Context
		err    error
		status int
		code   apierror.Code
	}{
		{context.Background(), &credentialError{connection.ErrNotConnected}, 404, apierror.NotConnected},
		{context.Background(), &credentialError{fmt.Errorf("refresh: %w", connection.ErrNeedsReconnect)}, 403, apierror.NeedsReconnect},
		{context.Background(), &credentialError{errors.New("token endpoint down")}, 502, apierror.RefreshFailed},
		{context.Background(), &renderError{&PathError{Reason: "x"}}, 400, apierror.PathRefused},
		{context.Background(), &renderError{errors.New("base URL: no value for inputs.sub")}, 409, apierror.ConnectionIncomplete},
		{context.Background(), &sendError{host: "api.example", err: &http.MaxBytesError{Limit: 10}}, 413, apierror.BodyTooLarge},
		{context.Background(), &sendError{host: "api.example", err: errors.New("connection refused")}, 502, apierror.UpstreamUnreachable},
		{gone, &sendError{host: "api.example", err: context.Canceled}, 0, ""},
	}
	for _, c := range cases {
		e := h.apiError(c.ctx, in, c.err)
		if c.status == 0 {
			if e != nil {
				t.Errorf("%v: answered %+v to a caller who went away", c.err, e)
			}
			continue
		}
		if e == nil || e.Status != c.status || e.Code != c.code {
			t.Errorf("%v: %+v, want %d %s", c.err, e, c.status, c.code)
		}
	}
}

// Hop-by-hop headers, and those a Connection header names, stop at the
// gateway both ways; the others cross.
func TestHopByHopHeadersStop(t *testing.T) {
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("Connection", "X-Up-Private")
		w.Header().Set("X-Up-Private", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Up-Public", "1")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(up.Close)
	in := testIntegration(t, keyManifest, up.URL)
	base := startProxy(t, &Handler{Credentials: newFakeCreds("k")}, in)
	req, _ := http.NewRequest("GET", base+"/x", nil)
	req.Header.Set("Connection", "X-Private")
	req.Header.Set("X-Private", "1")
	req.Header.Set("X-Public", "1")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Expect", "100-continue")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, h := range []string{"X-Private", "Keep-Alive", "Expect"} {
		if seen.Get(h) != "" {
			t.Errorf("%s reached the upstream", h)
		}
	}
	if seen.Get("X-Public") != "1" || seen.Get("Authorization") != "Bearer k" {
		t.Errorf("the upstream saw %v", seen)
	}
	if resp.Header.Get("X-Up-Private") != "" || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-Up-Public") != "1" {
		t.Errorf("the caller got %v", resp.Header)
	}
}
