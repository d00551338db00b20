package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRouteMatch(t *testing.T) {
	cases := []struct {
		path, project, ref, apiPath string
		ok                          bool
	}{
		{"/projects/dev/sdk/proxy/custom/github/user/repos", "dev", "github", "/user/repos", true},
		{"/projects/dev/sdk/proxy/custom.github/user/repos", "dev", "github", "/user/repos", true},
		{"/projects/dev/sdk/proxy/custom/github", "dev", "github", "", true},
		{"/projects/dev/sdk/proxy/custom/github/", "dev", "github", "/", true},
		{"/projects/dev/sdk/proxy/custom/github/a%2Fb/..%2f", "dev", "github", "/a%2Fb/..%2f", true}, // checked later, as sent
		{"/projects/d%20v/sdk/proxy/custom/git%68ub/x", "d v", "github", "/x", true},
		{"/projects/dev/sdk/proxy/slack/x", "dev", "", "", true}, // not custom: an unknown integration
		{"/projects/dev/sdk/credentials", "", "", "", false},
		{"/projects/dev", "", "", "", false},
		{"/v1/integrations", "", "", "", false},
	}
	var rt Route
	for _, c := range cases {
		r := httptest.NewRequest("GET", "http://gw"+c.path, nil)
		pid, ref, path, ok := rt.Match(r)
		if pid != c.project || ref != c.ref || path != c.apiPath || ok != c.ok {
			t.Errorf("%s: %q %q %q %v", c.path, pid, ref, path, ok)
		}
	}
}

func TestRouteUnknownIntegration(t *testing.T) {
	in := testIntegration(t, keyManifest, "http://api.example")
	rt := &Route{Users: allowUsers{}, Integrations: oneIntegration{in}, Handler: &Handler{}}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "http://gw/projects/dev/sdk/proxy/custom/nope%01/x", nil)
	rt.ServeHTTP(w, r)
	var body struct{ Code, Message string }
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	want := `no integration "nope?"; the proxy path is /projects/{project}/sdk/proxy/custom/{integration}/{api path}`
	if w.Code != http.StatusNotFound || body.Code != "integration_not_found" || body.Message != want || w.Header().Get("X-Plugboard-Error") != "integration_not_found" {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if r.Pattern != RoutePattern {
		t.Errorf("r.Pattern = %q, want the route for metrics", r.Pattern)
	}
}
