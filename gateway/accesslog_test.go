package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/proxy"
)

func withAccessLog(c *Config) { c.AccessLog = true }

// accessLine returns the access log record of the request with id, failing
// the test unless there is exactly one.
func accessLine(t *testing.T, logs, id string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"msg":"access"`) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("access line is not JSON: %v: %s", err, line)
		}
		if rec["request_id"] == id {
			found = append(found, rec)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d access lines for request %s in:\n%s", len(found), id, logs)
	}
	return found[0]
}

// checkFields compares the line's fields with want; a key of want with a
// nil value must be absent. duration_ms must always be there.
func checkFields(t *testing.T, rec map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := rec[k]
		switch {
		case v == nil && ok:
			t.Errorf("%s = %v, want none", k, got)
		case v != nil && fmt.Sprint(got) != fmt.Sprint(v):
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if d, ok := rec["duration_ms"].(float64); !ok || d <= 0 {
		t.Errorf("duration_ms = %v", rec["duration_ms"])
	}
	if rec["level"] != "INFO" {
		t.Errorf("level %v", rec["level"])
	}
}

// noSecrets fails if any of secrets appears anywhere in the logs.
func noSecrets(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the logs contain %q", s)
		}
	}
}

func TestAccessLogProxiedCall(t *testing.T) {
	e := startProxyEnvWith(t, withAccessLog)
	conn := e.connectOAuth("alice", time.Hour)
	tok := e.token("alice")
	r := e.do("POST", "/projects/dev/sdk/proxy/custom/fakeoauth/echo?q=query-secret-value", tok,
		strings.NewReader(`{"note":"body-secret-value"}`), map[string]string{"X-Request-Id": "req-proxied-1", "Content-Type": "application/json"})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	rec := accessLine(t, e.logs.String(), "req-proxied-1")
	checkFields(t, rec, map[string]any{"route": proxy.RoutePattern, "method": "POST", "status": 200, "project": "dev",
		"integration": "fakeoauth", "user": "alice", "upstream_status": 200, "error": nil})
	if u, ok := rec["upstream_ms"].(float64); !ok || u <= 0 || u > rec["duration_ms"].(float64) {
		t.Errorf("upstream_ms = %v (duration_ms %v)", rec["upstream_ms"], rec["duration_ms"])
	}
	noSecrets(t, e.logs.String(), tok, conn.Credential.AccessToken, conn.Credential.RefreshToken, "query-secret-value", "body-secret-value", e.provider.ClientSecret)
}

func TestAccessLogSDKCall(t *testing.T) {
	e := startProxyEnvWith(t, withAccessLog)
	e.provider.AddAPIKey("key-sdk-secret")
	tok := e.token("bob")
	r := e.do("POST", "/projects/dev/sdk/credentials", tok,
		strings.NewReader(`{"integrationId":"custom.fakekey","payload":{"api_key":"key-sdk-secret"}}`), map[string]string{"X-Request-Id": "req-sdk-1"})
	if r.status != 201 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkFields(t, accessLine(t, e.logs.String(), "req-sdk-1"), map[string]any{"route": "POST /projects/{pid}/sdk/credentials",
		"method": "POST", "status": 201, "project": "dev", "integration": "fakekey", "user": "bob", "error": nil, "upstream_status": nil})
	r = e.do("GET", "/projects/dev/sdk/me", tok, nil, map[string]string{"X-Request-Id": "req-sdk-2"})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkFields(t, accessLine(t, e.logs.String(), "req-sdk-2"), map[string]any{"route": "GET /projects/{pid}/sdk/me",
		"project": "dev", "user": "bob", "integration": nil, "status": 200})
	noSecrets(t, e.logs.String(), tok, "key-sdk-secret")
}

func TestAccessLogGatewayErrors(t *testing.T) {
	e := startProxyEnvWith(t, withAccessLog)
	tok := e.token("carol")
	// Not connected: the gateway answers, the upstream is never called.
	r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok, nil, map[string]string{"X-Request-Id": "req-err-1"})
	if r.status != 404 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkFields(t, accessLine(t, e.logs.String(), "req-err-1"), map[string]any{"route": proxy.RoutePattern, "status": 404,
		"error": "not_connected", "project": "dev", "user": "carol", "integration": "fakeoauth", "upstream_status": nil, "upstream_ms": nil})
	// A refused user token: the project is known, the user is not.
	r = e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", "not-a-token", nil, map[string]string{"X-Request-Id": "req-err-2"})
	if r.status != 401 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkFields(t, accessLine(t, e.logs.String(), "req-err-2"), map[string]any{"status": 401, "error": "token_invalid",
		"project": "dev", "user": nil, "integration": nil})
	// No route at all.
	r = e.do("GET", "/nowhere?token=query-secret", "", nil, map[string]string{"X-Request-Id": "req-err-3"})
	checkFields(t, accessLine(t, e.logs.String(), "req-err-3"), map[string]any{"status": r.status, "route": "unmatched", "error": "not_found"})
	// The upstream cannot be reached: a gateway error, no upstream status.
	e.connectKey("carol", "fakedown", "key-down")
	r = e.do("GET", "/projects/dev/sdk/proxy/custom/fakedown/me", tok, nil, map[string]string{"X-Request-Id": "req-err-4"})
	if r.status != 502 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkFields(t, accessLine(t, e.logs.String(), "req-err-4"), map[string]any{"status": 502, "error": "upstream_unreachable",
		"integration": "fakedown", "upstream_status": nil})
	noSecrets(t, e.logs.String(), tok, "query-secret", "key-down")
}

func TestAccessLogUpstreamError(t *testing.T) {
	e := startProxyEnvWith(t, withAccessLog)
	e.connectKey("dave", "fakekey", "key-dave-secret")
	tok := e.token("dave")
	r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/status?code=503", tok, nil, map[string]string{"X-Request-Id": "req-up-1"})
	if r.status != 503 || r.header.Get("X-Plugboard-Error") != "" {
		t.Fatalf("status %d, X-Plugboard-Error %q", r.status, r.header.Get("X-Plugboard-Error"))
	}
	// The upstream's error is not the gateway's: no error code.
	checkFields(t, accessLine(t, e.logs.String(), "req-up-1"), map[string]any{"status": 503, "upstream_status": 503,
		"error": nil, "integration": "fakekey", "user": "dave"})
	// An upstream timeout is the gateway's answer.
	e.connectKey("dave", "fakeslow", "key-dave-secret")
	r = e.do("GET", "/projects/dev/sdk/proxy/custom/fakeslow/slow?ms=1000", tok, nil, map[string]string{"X-Request-Id": "req-up-2"})
	if r.status != 504 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	rec := accessLine(t, e.logs.String(), "req-up-2")
	checkFields(t, rec, map[string]any{"status": 504, "error": "upstream_timeout", "upstream_status": nil})
	if u, _ := rec["upstream_ms"].(float64); u < 150 {
		t.Errorf("upstream_ms = %v, want the 200ms spent waiting", rec["upstream_ms"])
	}
	noSecrets(t, e.logs.String(), tok, "key-dave-secret")
}

func TestRequestID(t *testing.T) {
	e := startProxyEnvWith(t, withAccessLog)
	e.connectKey("erin", "fakekey", "key-erin")
	tok := e.token("erin")
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	upstreamSaw := func(r response) string {
		t.Helper()
		got := echoed(t, r)
		if v := got.Headers.Values("X-Request-Id"); len(v) != 1 {
			t.Fatalf("the upstream received X-Request-Id %q", v)
		}
		return got.Headers.Get("X-Request-Id")
	}
	for _, tc := range []struct {
		name, sent string
		accepted   bool
	}{
		{"uuid", "0b6f3c1e-9d1a-4a57-b5f2-2d8e0c4f9a10", true},
		{"token chars", "svc:abc_DEF.1~2+3/4=5@x", true},
		{"none", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"space", "two words", false},
		{"quote", `a"b`, false},
		{"backslash", `a\\b`, false},
		{"angle brackets", "<script>", false},
		{"non-ascii", "café", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.sent != "" {
				hdr["X-Request-Id"] = tc.sent
			}
			r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/echo", tok, nil, hdr)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			id := r.header.Get("X-Request-Id")
			if tc.accepted && id != tc.sent {
				t.Errorf("echoed %q, want the caller's %q", id, tc.sent)
			}
			if !tc.accepted && !generated.MatchString(id) {
				t.Errorf("echoed %q, want a generated id", id)
			}
			if got := upstreamSaw(r); got != id {
				t.Errorf("the upstream received %q, the caller %q", got, id)
			}
			accessLine(t, e.logs.String(), id)
		})
	}
	// Every answer has one, gateway errors and other routes included.
	for _, path := range []string{"/healthz", "/v1/integrations", "/nowhere"} {
		r := e.do("GET", path, "", nil, nil)
		if !generated.MatchString(r.header.Get("X-Request-Id")) {
			t.Errorf("%s: X-Request-Id %q", path, r.header.Get("X-Request-Id"))
		}
	}
	// Two requests, two ids.
	a := e.do("GET", "/healthz", "", nil, nil).header.Get("X-Request-Id")
	b := e.do("GET", "/healthz", "", nil, nil).header.Get("X-Request-Id")
	if a == b {
		t.Errorf("the same id twice: %s", a)
	}
}

// An upstream's own X-Request-Id reaches the caller as
// X-Upstream-Request-Id, beside the gateway's.
func TestUpstreamRequestIDIsRenamed(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "upstream-own-id")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(up.Close)
	e := startProxyEnvWith(t, withManifests(t, up.URL, map[string]string{"idup.yaml": fmt.Sprintf(keyManifest, "idup", "Id Upstream")}))
	e.connectKey("fay", "idup", "key-fay")
	r := e.do("GET", "/projects/dev/sdk/proxy/custom/idup/x", e.token("fay"), nil, map[string]string{"X-Request-Id": "gateway-id"})
	if got := r.header.Values("X-Request-Id"); len(got) != 1 || got[0] != "gateway-id" {
		t.Errorf("X-Request-Id %q", got)
	}
	if got := r.header.Get(proxy.UpstreamRequestIDHeader); got != "upstream-own-id" {
		t.Errorf("%s %q", proxy.UpstreamRequestIDHeader, got)
	}
}

func TestAccessLogOff(t *testing.T) {
	e := startProxyEnv(t) // Config.AccessLog false
	r := e.do("GET", "/v1/integrations", "", nil, map[string]string{"X-Request-Id": "req-off"})
	if r.header.Get("X-Request-Id") != "req-off" {
		t.Errorf("X-Request-Id %q", r.header.Get("X-Request-Id"))
	}
	if strings.Contains(e.logs.String(), `"msg":"access"`) {
		t.Error("an access line with the access log off")
	}
}

// Successful probes are logged at debug, not info: a load balancer sends
// them every few seconds.
func TestAccessLogProbesAtDebug(t *testing.T) {
	e := startProxyEnvWith(t, withAccessLog)
	e.do("GET", "/healthz", "", nil, map[string]string{"X-Request-Id": "req-probe"})
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `"request_id":"req-probe"`) && !strings.Contains(line, `"level":"DEBUG"`) {
			t.Errorf("probe logged as %s", line)
		}
	}
}
