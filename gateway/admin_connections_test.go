package gateway

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/admin"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// adminDo calls the admin API with the admin token; every answer must be
// no-store.
func (e *proxyEnv) adminDo(method, path string) response {
	e.t.Helper()
	r := e.do(method, path, e.admin, nil, nil)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("%s %s: Cache-Control %q, want no-store", method, path, cc)
	}
	return r
}

func (e *proxyEnv) adminList(query string) admin.Page {
	e.t.Helper()
	r := e.adminDo("GET", "/admin/v1/connections"+query)
	if r.status != 200 {
		e.t.Fatalf("GET /admin/v1/connections%s: %d %s", query, r.status, r.body)
	}
	var page admin.Page
	if err := json.Unmarshal([]byte(r.body), &page); err != nil {
		e.t.Fatal(err)
	}
	return page
}

func (e *proxyEnv) adminDetail(id string) admin.Detail {
	e.t.Helper()
	r := e.adminDo("GET", "/admin/v1/connections/"+id)
	if r.status != 200 {
		e.t.Fatalf("GET /admin/v1/connections/%s: %d %s", id, r.status, r.body)
	}
	var d admin.Detail
	if err := json.Unmarshal([]byte(r.body), &d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// storeConn creates a connection directly in the store.
func (e *proxyEnv) storeConn(c *connection.Connection) *connection.Connection {
	e.t.Helper()
	if c.ProjectID == "" {
		c.ProjectID = "dev"
	}
	if err := e.store.Create(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func users(p admin.Page) []string {
	var us []string
	for _, c := range p.Connections {
		us = append(us, c.User+"/"+c.Integration.ID+"/"+string(c.Status))
	}
	return us
}

// TestAdminConnectionsFiltersPagesAndStatus: the listing's filters, its
// cursor pages, the computed status with its reason, and 400s naming the
// parameter at fault.
func TestAdminConnectionsFiltersPagesAndStatus(t *testing.T) {
	e := startProxyEnv(t)
	e.connectOAuth("ann", time.Hour)                                              // valid
	e.connectOAuth("bob", -time.Minute)                                           // expired, refresh token: expired_refreshable
	e.storeConn(&connection.Connection{UserID: "cid", IntegrationID: "fakeoauth", // expired, nothing to renew it
		Credential: connection.Credential{AccessToken: "bare-access-token"}, ExpiresAt: time.Now().Add(-time.Minute)})
	refused := e.storeConn(&connection.Connection{UserID: "dee", IntegrationID: "fakeoauth",
		Credential: connection.Credential{AccessToken: "x", RefreshToken: "y"}, ExpiresAt: time.Now().Add(time.Hour)})
	refused.Status, refused.LastError = connection.StatusNeedsReconnect, "invalid_grant: the refresh token was revoked"
	if err := e.store.Update(context.Background(), refused); err != nil {
		t.Fatal(err)
	}
	e.connectKey("ann", "fakekey", "ann-key-0001")
	e.storeConn(&connection.Connection{ProjectID: "other", UserID: "ann", IntegrationID: "gone",
		Credential: connection.Credential{Inputs: map[string]string{"k": "v"}}})

	all := e.adminList("")
	if len(all.Connections) != 6 || all.NextCursor != "" {
		t.Fatalf("listing: %v next=%q", users(all), all.NextCursor)
	}
	byUser := map[string]admin.Summary{}
	for _, c := range all.Connections {
		byUser[c.User+"/"+c.Integration.ID] = c
	}
	for key, want := range map[string]connection.Health{
		"ann/fakeoauth": connection.HealthValid, "bob/fakeoauth": connection.HealthExpiredRefreshable,
		"cid/fakeoauth": connection.HealthNeedsReconnect, "dee/fakeoauth": connection.HealthNeedsReconnect,
		"ann/fakekey": connection.HealthValid, "ann/gone": connection.HealthValid,
	} {
		if got := byUser[key].Status; got != want {
			t.Errorf("%s: status %s, want %s", key, got, want)
		}
	}
	if r := byUser["cid/fakeoauth"].StatusReason; r != connection.ExpiredNotRenewable {
		t.Errorf("expired without refresh token: reason %q", r)
	}
	if r := byUser["dee/fakeoauth"].StatusReason; !strings.Contains(r, "invalid_grant") {
		t.Errorf("refused: reason %q, want the provider's error", r)
	}
	if in := byUser["ann/fakeoauth"].Integration; in.Name != "Fake OAuth" || !in.Loaded {
		t.Errorf("integration %+v, want its name", in)
	}
	if in := byUser["ann/gone"].Integration; in.Name != "" || in.Loaded {
		t.Errorf("integration no longer loaded: %+v", in)
	}

	for query, want := range map[string][]string{
		"?user=ann":                           {"ann/fakeoauth/valid", "ann/fakekey/valid", "ann/gone/valid"},
		"?user=ann&project=dev":               {"ann/fakeoauth/valid", "ann/fakekey/valid"},
		"?integration=fakekey":                {"ann/fakekey/valid"},
		"?integration=custom.fakekey":         {"ann/fakekey/valid"},
		"?status=expired_refreshable":         {"bob/fakeoauth/expired_refreshable"},
		"?status=needs_reconnect":             {"cid/fakeoauth/needs_reconnect", "dee/fakeoauth/needs_reconnect"},
		"?status=valid&integration=fakeoauth": {"ann/fakeoauth/valid"},
		"?project=nobody":                     nil,
	} {
		got := users(e.adminList(query))
		slices.Sort(got) // created in the same millisecond, they are in id order
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", query, got, want)
		}
	}

	// Pages of 4 then 2; every connection once.
	first := e.adminList("?limit=4")
	if len(first.Connections) != 4 || first.NextCursor == "" {
		t.Fatalf("first page: %v next=%q", users(first), first.NextCursor)
	}
	second := e.adminList("?limit=4&cursor=" + url.QueryEscape(first.NextCursor))
	if len(second.Connections) != 2 || second.NextCursor != "" {
		t.Fatalf("second page: %v next=%q", users(second), second.NextCursor)
	}
	if got := append(users(first), users(second)...); !slices.Equal(got, users(all)) {
		t.Errorf("pages %v, want %v", got, users(all))
	}

	for query, param := range map[string]string{
		"?status=broken":  "status",
		"?limit=0":        "limit",
		"?limit=501":      "limit",
		"?limit=ten":      "limit",
		"?cursor=garbage": "cursor",
		"?stauts=valid":   "stauts",
		"?user=a&user=b":  "user",
	} {
		r := e.adminDo("GET", "/admin/v1/connections"+query)
		var body struct {
			Code    string
			Message string
			Fields  []struct{ Field string }
		}
		_ = json.Unmarshal([]byte(r.body), &body)
		if r.status != 400 || body.Code != "bad_request" || len(body.Fields) != 1 || body.Fields[0].Field != param ||
			!strings.Contains(body.Message, param) {
			t.Errorf("%s: %d %s, want 400 bad_request naming %q", query, r.status, r.body, param)
		}
	}
	if r := e.do("GET", "/admin/v1/connections", "", nil, nil); r.status != 401 {
		t.Errorf("without the admin token: %d", r.status)
	}
	if r := e.do("GET", "/admin/v1/connections", e.token("ann"), nil, nil); r.status != 401 {
		t.Errorf("with a user token: %d", r.status)
	}
}

// TestAdminConnectionDetailHasNoSecrets: detail shows non-secret inputs
// and the keys of secret ones; no token, client secret or secret input
// value appears in any admin answer.
func TestAdminConnectionDetailHasNoSecrets(t *testing.T) {
	e := startProxyEnv(t)
	oauthConn := e.connectOAuth("ann", time.Hour)
	keyConn := e.storeConn(&connection.Connection{UserID: "ann", IntegrationID: "fakekey",
		Credential: connection.Credential{Inputs: map[string]string{"api_key": "secret-input-value-7731"}}})
	queryConn := e.storeConn(&connection.Connection{UserID: "ann", IntegrationID: "fakequery",
		Credential: connection.Credential{Inputs: map[string]string{"api_key": "visible-query-key", "legacy": "undeclared-value-5512"}}})
	ccConn := e.storeConn(&connection.Connection{UserID: "ann", IntegrationID: "fakecc", ExpiresAt: time.Now().Add(time.Hour),
		Credential: connection.Credential{AccessToken: "cc-access-token-9981", ClientID: "cc-client", ClientSecret: "cc-client-secret-4410"}})
	goneConn := e.storeConn(&connection.Connection{UserID: "ann", IntegrationID: "gone",
		Credential: connection.Credential{Inputs: map[string]string{"region": "gone-region-value-3321"}}})
	secrets := []string{oauthConn.Credential.AccessToken, oauthConn.Credential.RefreshToken, "secret-input-value-7731",
		"undeclared-value-5512", "cc-access-token-9981", "cc-client-secret-4410", "gone-region-value-3321", e.provider.ClientSecret}

	var bodies []string
	check := func(r response) response {
		bodies = append(bodies, r.body)
		return r
	}
	check(e.adminDo("GET", "/admin/v1/connections"))
	for _, c := range []*connection.Connection{oauthConn, keyConn, queryConn, ccConn, goneConn} {
		check(e.adminDo("GET", "/admin/v1/connections/"+c.ID))
	}

	key := e.adminDetail(keyConn.ID)
	if len(key.Inputs) != 0 || !slices.Equal(key.InputKeys, []string{"api_key"}) || key.AuthType != "api_key" {
		t.Errorf("secret input: inputs %v keys %v auth %q", key.Inputs, key.InputKeys, key.AuthType)
	}
	query := e.adminDetail(queryConn.ID)
	if query.Inputs["api_key"] != "visible-query-key" || len(query.Inputs) != 1 || !slices.Equal(query.InputKeys, []string{"api_key", "legacy"}) {
		t.Errorf("non-secret input: inputs %v keys %v (an undeclared input shows its key only)", query.Inputs, query.InputKeys)
	}
	gone := e.adminDetail(goneConn.ID)
	if len(gone.Inputs) != 0 || !slices.Equal(gone.InputKeys, []string{"region"}) || gone.Integration.Loaded {
		t.Errorf("integration not loaded: inputs %v keys %v integration %+v", gone.Inputs, gone.InputKeys, gone.Integration)
	}
	o := e.adminDetail(oauthConn.ID)
	if o.ExpiresAt == nil || !o.ExpiresAt.Equal(oauthConn.ExpiresAt.Truncate(time.Millisecond)) || o.Project != "dev" || o.User != "ann" ||
		o.Status != connection.HealthValid || o.CreatedAt.IsZero() || o.LastUsedAt != nil || o.LastRefreshAt != nil {
		t.Errorf("oauth detail: %+v", o)
	}
	if r := check(e.adminDo("GET", "/admin/v1/connections/6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50")); r.status != 404 ||
		r.header.Get("X-Plugboard-Error") != "credential_not_found" {
		t.Errorf("unknown id: %d %s", r.status, r.body)
	}
	if r := check(e.adminDo("GET", "/admin/v1/connections/not-a-uuid")); r.status != 404 {
		t.Errorf("malformed id: %d %s", r.status, r.body)
	}
	for _, b := range bodies {
		for _, s := range secrets {
			if strings.Contains(b, s) {
				t.Errorf("an admin answer holds the secret %q:\n%s", s, b)
			}
		}
	}
}

// TestAdminDeleteRevokesAtTheProvider: DELETE disconnects as the user's own
// disconnect does: revoked at the provider, deleted, the cache forgotten.
func TestAdminDeleteRevokesAtTheProvider(t *testing.T) {
	e := startProxyEnv(t)
	conn := e.connectOAuth("vera", time.Hour)
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", e.token("vera"), nil, nil); r.status != 200 {
		t.Fatalf("proxy before: %d %s", r.status, r.body) // and the connection is cached
	}
	if r := e.do("DELETE", "/admin/v1/connections/"+conn.ID, "", nil, nil); r.status != 401 || e.provider.RevokeCalls.Load() != 0 {
		t.Fatalf("delete without the admin token: %d", r.status)
	}
	if r := e.adminDo("DELETE", "/admin/v1/connections/"+conn.ID); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if e.provider.RevokeCalls.Load() != 1 || e.provider.RefreshTokenLive(conn.Credential.RefreshToken) {
		t.Error("the refresh token was not revoked at the provider")
	}
	if r := e.adminDo("GET", "/admin/v1/connections/"+conn.ID); r.status != 404 {
		t.Errorf("detail after delete: %d", r.status)
	}
	if r := e.adminDo("DELETE", "/admin/v1/connections/"+conn.ID); r.status != 404 {
		t.Errorf("second delete: %d", r.status)
	}
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", e.token("vera"), nil, nil); r.status != 404 {
		t.Errorf("proxy after delete: %d %s", r.status, r.body)
	}
}

// TestAdminLastUsedAndLastRefresh: a proxied call records the
// connection's last use (off the request path, soon after) and the
// refresh it needed.
func TestAdminLastUsedAndLastRefresh(t *testing.T) {
	e := startProxyEnv(t)
	conn := e.connectOAuth("ned", -time.Minute)
	before := time.Now().Add(-time.Second)
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", e.token("ned"), nil, nil); r.status != 200 {
		t.Fatalf("proxy: %d %s", r.status, r.body)
	}
	var d admin.Detail
	testfix.Eventually(t, "last use recorded", func() bool {
		d = e.adminDetail(conn.ID)
		return d.LastUsedAt != nil
	})
	if d.LastUsedAt.Before(before) || d.LastRefreshAt == nil || d.LastRefreshAt.Before(before) || d.Status != connection.HealthValid {
		t.Errorf("after a proxied call that refreshed: last used %v, last refresh %v, status %s", d.LastUsedAt, d.LastRefreshAt, d.Status)
	}
}

// TestConnectionsGauge: plugboard_connections counts by integration and
// status.
func TestConnectionsGauge(t *testing.T) {
	e := startProxyEnv(t)
	e.connectOAuth("a", time.Hour)
	e.connectOAuth("b", time.Hour)
	e.connectOAuth("c", -time.Minute)
	e.connectKey("a", "fakekey", "gauge-key")
	got := e.metric("plugboard_connections{")
	for _, want := range []string{
		`plugboard_connections{integration="fakeoauth",status="valid"} 2`,
		`plugboard_connections{integration="fakeoauth",status="expired_refreshable"} 1`,
		`plugboard_connections{integration="fakeoauth",status="needs_reconnect"} 0`,
		`plugboard_connections{integration="fakekey",status="valid"} 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %s; have:\n%s", want, got)
		}
	}
}
