package gateway

import (
	"strings"
	"testing"
)

// TestProxyUsesTheChosenCredential: the SDK's X-Paragon-Credential picks
// which of a user's connections of an integration a proxied call uses; an
// id that is not one of them is 404 credential_not_found, and the header
// never reaches the upstream.
func TestProxyUsesTheChosenCredential(t *testing.T) {
	e := startProxyEnv(t)
	// A call made with the second connection gets the provider's 401, one
	// made with the first its answer.
	first, second := e.twoKeyConnections("carol")
	get := func(path, credential string) response {
		t.Helper()
		var hdr map[string]string
		if credential != "" {
			hdr = map[string]string{"X-Paragon-Credential": credential}
		}
		return e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey"+path, e.token("carol"), nil, hdr)
	}
	if r := get("/me", ""); r.status != 200 || r.body != `{"output":{"login":"octo","id":42}}` {
		t.Fatalf("without the header (the default connection): %d %s", r.status, r.body)
	}
	if r := get("/me", first.ID); r.status != 200 || r.body != `{"output":{"login":"octo","id":42}}` {
		t.Errorf("with the first connection: %d %s", r.status, r.body)
	}
	if r := get("/me", second.ID); r.status != 401 || r.header.Get("X-Plugboard-Error") != "" {
		t.Errorf("with the second connection (its key refused upstream): %d %s, want the upstream's 401", r.status, r.body)
	}
	if r := get("/echo", first.ID); r.status != 200 || strings.Contains(strings.ToLower(r.body), "x-paragon-credential") {
		t.Errorf("the header must stop at the gateway: %d %s", r.status, r.body)
	}

	for name, id := range e.notCarolsFakekeyConnections() {
		r := get("/me", id)
		if r.status != 404 || r.header.Get("X-Plugboard-Error") != "credential_not_found" ||
			!strings.Contains(r.body, `No credential \"`+id+`\" of this user for Fake Key`) {
			t.Errorf("%s credential: %d %s", name, r.status, r.body)
		}
	}
}
