package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestTryAPIKey runs `plugboard try` as an ops engineer would, against a
// stand-in API that accepts one key.
func TestTryAPIKey(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/me" || r.Header.Get("X-Api-Key") != "good-key" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid api key"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"account":"acme"}`))
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "integrations.d", "acme.yaml"), `id: acme
name: Acme
description: Acme API.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: `+api.URL+`/v1
  authorization: {type: header, name: X-Api-Key, value: "{{inputs.api_key}}"}
  testEndpoint: /me
`)
	ok := runServeCmd(t, dir, serveEnv(), "try", "acme", "--input", "api_key=good-key")
	if ok.code != 0 || !strings.Contains(ok.stdout, "Acme: credential works") || !strings.Contains(ok.stdout, "answered 200") || !strings.Contains(ok.stdout, `{"account":"acme"}`) {
		t.Errorf("good key: %s", ok)
	}
	bad := runServeCmd(t, dir, serveEnv(), "try", "custom.acme", "--input", "api_key=bad-key")
	if bad.code != 1 || !strings.Contains(bad.stdout, "not connected (400)") || !strings.Contains(bad.stdout, "invalid api key") || strings.Contains(bad.stdout+bad.stderr, "bad-key") {
		t.Errorf("bad key: %s", bad)
	}
	if r := runServeCmd(t, dir, serveEnv(), "try"); r.code != 2 {
		t.Errorf("no integration named: %s", r)
	}
	if r := runServeCmd(t, dir, serveEnv(), "try", "nope", "--input", "a=b"); r.code != 1 || !strings.Contains(r.stderr, `integration "nope" is not loaded`) {
		t.Errorf("unknown integration: %s", r)
	}
}
