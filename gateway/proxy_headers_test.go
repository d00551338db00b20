package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// headerRows reads a "Name: value" corpus from gateway/proxy/testdata.
func headerRows(t *testing.T, name string) [][2]string {
	t.Helper()
	f, err := os.ReadFile(filepath.Join("proxy", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][2]string
	for _, line := range strings.Split(string(f), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s: %q is not Name: value", name, line)
		}
		rows = append(rows, [2]string{k, v})
	}
	if len(rows) < 10 {
		t.Fatalf("%s has %d rows", name, len(rows))
	}
	return rows
}

// sameHeaderName compares names as the proxy does: case-insensitively,
// with "_" read as "-".
func sameHeaderName(a, b string) bool {
	return strings.EqualFold(strings.ReplaceAll(a, "_", "-"), strings.ReplaceAll(b, "_", "-"))
}

// withManifests adds manifests to a test gateway's folder, with {{U}}
// replaced by upstream.
func withManifests(t *testing.T, upstream string, files map[string]string) func(*Config) {
	return func(c *Config) {
		for name, body := range files {
			writeFile(t, filepath.Join(c.ManifestDir, name), strings.ReplaceAll(body, "{{U}}", upstream))
		}
	}
}

const keyManifest = `id: %s
name: %s
description: Test upstream.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
api:
  baseUrl: {{U}}/api
  authorization:
    type: header
    name: X-Api-Key
    value: "{{inputs.api_key}}"
`

func TestProxyDropsIdentityAndRerouteRequestHeaders(t *testing.T) {
	e := startProxyEnv(t)
	e.connectKey("rita", "fakekey", "key-rita")
	rows := headerRows(t, "dropped-request-headers.txt")
	hdr := map[string]string{"X-Custom": "kept"}
	for _, r := range rows {
		if r[0] != "Authorization" { // the gateway token is the request's Authorization
			hdr[r[0]] = r[1]
		}
	}
	resp := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/echo", e.token("rita"), nil, hdr)
	got := echoed(t, resp)
	if got.Headers.Get("X-Custom") != "kept" || got.Headers.Get("X-Api-Key") != "key-rita" {
		t.Fatalf("the upstream did not get the request as expected: %v", got.Headers)
	}
	for _, r := range rows {
		t.Run(r[0], func(t *testing.T) {
			for name, vals := range got.Headers {
				if sameHeaderName(name, r[0]) {
					t.Errorf("the upstream received %s: %q", name, vals)
				}
			}
		})
	}
}

func TestProxyFiltersUpstreamResponseHeaders(t *testing.T) {
	rows := headerRows(t, "dropped-response-headers.txt")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, row := range rows {
			h.Add(row[0], row[1])
		}
		h.Add("Vary", "Accept-Encoding, Origin")
		h.Add("Vary", "Accept")
		h.Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(up.Close)
	const app = "https://app.example"
	e := startProxyEnvWith(t, func(c *Config) {
		c.AllowedOrigins = []string{app}
		withManifests(t, up.URL, map[string]string{"hdrs.yaml": fmt.Sprintf(keyManifest, "hdrs", "Header Upstream")})(c)
	})
	e.connectKey("sam", "hdrs", "key-sam")
	tok := e.token("sam")
	withOrigin := e.do("GET", "/projects/dev/sdk/proxy/custom/hdrs/x", tok, nil, map[string]string{"Origin": app})
	without := e.do("GET", "/projects/dev/sdk/proxy/custom/hdrs/x", tok, nil, nil)
	for _, r := range []response{withOrigin, without} {
		if r.status != 200 || r.body != `{"output":{"ok":true}}` {
			t.Fatalf("proxied answer: %d %s", r.status, r.body)
		}
	}
	for _, row := range rows {
		t.Run(row[0], func(t *testing.T) {
			for _, r := range []response{withOrigin, without} {
				for _, v := range r.header.Values(row[0]) {
					if v == row[1] {
						t.Errorf("the caller received the upstream's %s: %q", row[0], v)
					}
				}
			}
			if isGatewayCORSHeader(row[0]) {
				return
			}
			if v := withOrigin.header.Values(row[0]); v != nil {
				t.Errorf("the caller received %s: %q", row[0], v)
			}
		})
	}
	// CORS is the gateway's alone: its own headers, once each.
	if v := withOrigin.header.Values("Access-Control-Allow-Origin"); len(v) != 1 || v[0] != app {
		t.Errorf("Access-Control-Allow-Origin %q, want exactly %q", v, app)
	}
	if v := withOrigin.header.Values("Access-Control-Expose-Headers"); len(v) != 1 || v[0] != "X-Plugboard-Error, X-Request-Id, Content-Type, Retry-After" {
		t.Errorf("Access-Control-Expose-Headers %q", v)
	}
	if v := without.header.Values("Access-Control-Allow-Origin"); v != nil {
		t.Errorf("without an Origin the caller still gets Access-Control-Allow-Origin %q", v)
	}
	if v := withOrigin.header.Values("Vary"); len(v) != 1 || v[0] != "Origin, Accept-Encoding, Accept" {
		t.Errorf("Vary %q, want one line Origin, Accept-Encoding, Accept", v)
	}
	if v := without.header.Values("Vary"); len(v) != 1 || v[0] != "Accept-Encoding, Origin, Accept" {
		t.Errorf("Vary without an Origin %q", v)
	}
	for _, r := range []response{withOrigin, without} {
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("X-Plugboard-Error") != "" {
			t.Errorf("X-Content-Type-Options %q, X-Plugboard-Error %q", r.header.Get("X-Content-Type-Options"), r.header.Get("X-Plugboard-Error"))
		}
	}
}

func isGatewayCORSHeader(name string) bool {
	return strings.EqualFold(name, "Access-Control-Allow-Origin") || strings.EqualFold(name, "Access-Control-Expose-Headers")
}

// TestProxyUpstreamCannotFakeAGatewayError: an upstream's own
// X-Plugboard-Error never reaches the caller, so the SDK and apps can tell
// the gateway's refusals from the API's answers.
func TestProxyUpstreamCannotFakeAGatewayError(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Plugboard-Error", "not_connected")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"code":"not_connected","message":"the user has not connected it"}`)
	}))
	t.Cleanup(up.Close)
	e := startProxyEnvWith(t, withManifests(t, up.URL, map[string]string{"faker.yaml": fmt.Sprintf(keyManifest, "faker", "Faker")}))
	e.connectKey("tess", "faker", "key-tess")
	r := e.do("GET", "/projects/dev/sdk/proxy/custom/faker/x", e.token("tess"), nil, nil)
	if r.status != 404 || r.header.Get("X-Plugboard-Error") != "" {
		t.Errorf("upstream 404 reached the caller as %d with X-Plugboard-Error %q", r.status, r.header.Get("X-Plugboard-Error"))
	}
}

// rawUpstream is an HTTP/1.1 server written by hand: it records each
// request's head as it arrived and answers websocket upgrades with a 101
// and an echo of what follows, anything else with 200.
type rawUpstream struct {
	ln    net.Listener
	mu    sync.Mutex
	heads []string
}

func startRawUpstream(t *testing.T) *rawUpstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go u.serve(c)
		}
	}()
	return u
}

func (u *rawUpstream) URL() string { return "http://" + u.ln.Addr().String() }

func (u *rawUpstream) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	h := head.String()
	u.mu.Lock()
	u.heads = append(u.heads, h)
	u.mu.Unlock()
	lower := strings.ToLower(h)
	switch {
	case strings.Contains(lower, "\r\nupgrade: websocket\r\n"):
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		_, _ = io.Copy(c, br)
	default:
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}")
	}
}

func (u *rawUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.heads...)
}

// exchange sends a hand-written request to the gateway and reads the
// response head; the connection stays open for what follows.
func exchange(t *testing.T, base, request string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // a hang fails the test instead of stalling it
	if _, err := io.WriteString(c, strings.ReplaceAll(request, "\n", "\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the gateway's answer: %v", err)
	}
	return resp, c, br
}

func startRawEnv(t *testing.T) (*proxyEnv, *rawUpstream, string) {
	up := startRawUpstream(t)
	ws := fmt.Sprintf(keyManifest, "rawws", "Raw Websocket") + "  websocket: true\n"
	e := startProxyEnvWith(t, withManifests(t, up.URL(), map[string]string{
		"rawws.yaml":    ws,
		"rawplain.yaml": fmt.Sprintf(keyManifest, "rawplain", "Raw Plain"),
	}))
	e.connectKey("uri", "rawws", "key-uri")
	e.connectKey("uri", "rawplain", "key-uri")
	return e, up, e.token("uri")
}

func TestProxyNeverSendsTE(t *testing.T) {
	e, up, tok := startRawEnv(t)
	resp, _, _ := exchange(t, e.base, "GET /projects/dev/sdk/proxy/custom/rawplain/x HTTP/1.1\nHost: gw\nAuthorization: Bearer "+tok+"\nTE: trailers\nConnection: close\n\n")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	heads := up.requests()
	if len(heads) != 1 {
		t.Fatalf("%d upstream requests", len(heads))
	}
	for _, line := range strings.Split(heads[0], "\r\n") {
		if name, _, _ := strings.Cut(line, ":"); strings.EqualFold(name, "TE") {
			t.Errorf("the upstream received %q", line)
		}
	}
}

func TestProxyRefusesProtocolSwitches(t *testing.T) {
	e, up, tok := startRawEnv(t)
	auth := "Host: gw\nAuthorization: Bearer " + tok + "\n"
	cases := []struct{ name, request string }{
		{"h2c smuggling", "GET /projects/dev/sdk/proxy/custom/rawws/x HTTP/1.1\n" + auth + "Connection: Upgrade, HTTP2-Settings\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\n\n"},
		{"h2c without Connection", "GET /projects/dev/sdk/proxy/custom/rawplain/x HTTP/1.1\n" + auth + "Upgrade: h2c\n\n"},
		{"h2c on a POST", "POST /projects/dev/sdk/proxy/custom/rawws/x HTTP/1.1\n" + auth + "Connection: Upgrade\nUpgrade: h2c\nContent-Length: 0\n\n"},
		{"other protocol", "GET /projects/dev/sdk/proxy/custom/rawws/x HTTP/1.1\n" + auth + "Connection: Upgrade\nUpgrade: irc/6.9\n\n"},
		{"websocket among others", "GET /projects/dev/sdk/proxy/custom/rawws/x HTTP/1.1\n" + auth + "Connection: Upgrade\nUpgrade: h2c, websocket\n\n"},
		{"websocket, not declared", "GET /projects/dev/sdk/proxy/custom/rawplain/x HTTP/1.1\n" + auth + "Connection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n\n"},
		{"websocket on a POST", "POST /projects/dev/sdk/proxy/custom/rawws/x HTTP/1.1\n" + auth + "Connection: Upgrade\nUpgrade: websocket\nContent-Length: 0\n\n"},
	}
	for _, c := range cases {
		resp, _, _ := exchange(t, e.base, c.request)
		if resp.StatusCode != 400 || resp.Header.Get("X-Plugboard-Error") != "upgrade_refused" {
			t.Errorf("%s: %d %q, want 400 upgrade_refused", c.name, resp.StatusCode, resp.Header.Get("X-Plugboard-Error"))
		}
	}
	if heads := up.requests(); len(heads) != 0 {
		t.Errorf("refused upgrades reached the upstream: %q", heads)
	}
}

func TestProxyWebsocketForDeclaringIntegrations(t *testing.T) {
	e, up, tok := startRawEnv(t)
	resp, c, br := exchange(t, e.base, "GET /projects/dev/sdk/proxy/custom/rawws/stream HTTP/1.1\nHost: gw\nAuthorization: Bearer "+tok+
		"\nConnection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nOrigin: https://app.example\nSec-Fetch-Mode: websocket\n\n")
	if resp.StatusCode != 101 || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("websocket upgrade: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := io.WriteString(c, "frames both ways"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("frames both ways"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "frames both ways" {
		t.Fatalf("echo through the tunnel: %q %v", buf, err)
	}
	heads := up.requests()
	if len(heads) != 1 {
		t.Fatalf("%d upstream requests", len(heads))
	}
	h := strings.ToLower(heads[0])
	for _, want := range []string{"get /api/stream http/1.1", "\r\nupgrade: websocket\r\n", "\r\nconnection: upgrade\r\n", "\r\nsec-websocket-key: dghlihnhbxbszsbub25jzq==\r\n", "\r\nsec-websocket-version: 13\r\n", "\r\nx-api-key: key-uri\r\n"} {
		if !strings.Contains(h, want) {
			t.Errorf("upstream request lacks %q:\n%s", want, heads[0])
		}
	}
	for _, not := range []string{"\r\norigin:", "\r\nsec-fetch-mode:", tok} {
		if strings.Contains(h, strings.ToLower(not)) {
			t.Errorf("upstream request has %q:\n%s", not, heads[0])
		}
	}
}
