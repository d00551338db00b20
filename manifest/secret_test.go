package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretsNeverPrint loads manifests with their secrets resolved and
// prints what was loaded every way a log line or debug dump might.
func TestSecretsNeverPrint(t *testing.T) {
	secrets := map[string]string{
		"ACME_CLIENT_ID":   "client-id-not-secret",
		"ACME_PARTNER_KEY": "partner-key-very-secret",
	}
	const fileSecret = "file-secret-value" // testdata/good/client-secret.txt
	lookups := 0
	opts := Options{ResolveSecrets: true, Secrets: SecretResolver{LookupEnv: func(k string) (string, bool) {
		lookups++
		v, ok := secrets[k]
		return v, ok
	}}}
	res, err := LoadPaths([]string{filepath.Join("testdata", "good")}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if probs := res.Problems(); len(probs) > 0 {
		t.Fatalf("good manifests did not load:\n%v", probs)
	}
	if lookups == 0 {
		t.Fatal("LookupEnv was not used")
	}
	var oauth, key *Integration
	for _, in := range res.Integrations() {
		switch in.ID {
		case "acme-oauth":
			oauth = in
		case "acme-key":
			key = in
		}
	}
	clientSecret := oauth.Auth.OAuth2.ClientSecret
	partnerKey := key.API.Headers[0].Value.Secret
	if v, _ := clientSecret.Value(); v != fileSecret {
		t.Fatalf("client secret resolved to %q", v)
	}
	if v, _ := partnerKey.Value(); v != secrets["ACME_PARTNER_KEY"] {
		t.Fatalf("partner key resolved to %q", v)
	}

	// Everything reachable that holds a secret, by pointer and by value.
	things := []any{
		oauth, *oauth, oauth.Auth, *oauth.Auth.OAuth2, oauth.Auth.OAuth2.ClientSecret,
		key, *key, key.API, key.API.Headers, key.API.Headers[0], key.API.Headers[0].Value,
		res, res.Files,
	}
	var out bytes.Buffer
	for _, x := range things {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			fmt.Fprintf(&out, verb+"\n", x)
		}
		fmt.Fprintln(&out, x)
		if b, err := json.Marshal(x); err == nil {
			out.Write(b)
		}
	}
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		log := slog.New(h)
		for _, x := range things {
			log.Info("loaded", "thing", x)
		}
		log.Info("secret", "ref", clientSecret, "header", key.API.Headers[0])
	}
	dump := out.String()
	for _, s := range []string{fileSecret, secrets["ACME_PARTNER_KEY"]} {
		if strings.Contains(dump, s) {
			i := strings.Index(dump, s)
			t.Errorf("secret %q printed: …%s…", s, dump[max(0, i-200):i+len(s)])
		}
	}
	// The secrets were reached, and printed as the placeholder.
	for _, want := range []string{"ClientSecret:<secret>", "Secret:<secret>", `"Secret":"\u003csecret\u003e"`} {
		if !strings.Contains(dump, want) {
			t.Errorf("output lacks %s", want)
		}
	}

	for name, got := range map[string]string{
		"String":   clientSecret.String(),
		"GoString": clientSecret.GoString(),
		"LogValue": clientSecret.LogValue().String(),
		"%v":       fmt.Sprintf("%v", clientSecret),
		"%+v":      fmt.Sprintf("%+v", clientSecret),
	} {
		if got != "<secret>" {
			t.Errorf("%s = %q, want <secret>", name, got)
		}
	}
	var fromJSON string
	if b, _ := json.Marshal(clientSecret); json.Unmarshal(b, &fromJSON) != nil || fromJSON != "<secret>" {
		t.Errorf("JSON = %s", b)
	}
}

func TestSecretResolutionErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	manifest := func(secret string) string {
		return `id: acme
name: Acme
description: x
icon: <svg xmlns="http://www.w3.org/2000/svg"/>
auth:
  type: oauth2
  oauth2:
    authorizationUrl: https://acme.com/oauth/authorize
    tokenUrl: https://acme.com/oauth/token
    clientId: acme
    clientSecret: ` + secret + `
api:
  baseUrl: https://api.acme.com
  testEndpoint: /me
`
	}
	write("empty.txt", "\n")
	write("ok.txt", "from-file\r\n")
	env := map[string]string{"SET": "from-env", "EMPTY": ""}
	opts := Options{ResolveSecrets: true, Secrets: SecretResolver{LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}}
	tests := []struct {
		ref, want string // want is the value, or the error text
		ok        bool
	}{
		{"${SET}", "from-env", true},
		{"${file:ok.txt}", "from-file", true},
		{"${UNSET}", "11:19: auth.oauth2.clientSecret: environment variable UNSET is not set", false},
		{"${EMPTY}", "11:19: auth.oauth2.clientSecret: environment variable EMPTY is empty", false},
		{"${file:missing.txt}", "11:19: auth.oauth2.clientSecret: cannot read secret file missing.txt", false},
		{"${file:empty.txt}", "11:19: auth.oauth2.clientSecret: secret file empty.txt is empty", false},
	}
	for _, tc := range tests {
		path := write("acme.yaml", manifest(tc.ref))
		data, _ := os.ReadFile(path)
		in, probs := Parse(path, data, opts)
		if tc.ok {
			if in == nil {
				t.Errorf("%s: %v", tc.ref, probs)
				continue
			}
			if v, _ := in.Auth.OAuth2.ClientSecret.Value(); v != tc.want {
				t.Errorf("%s resolved to %q, want %q", tc.ref, v, tc.want)
			}
			continue
		}
		if in != nil || len(probs) != 1 || !parseWant(t, tc.want).matches(path, probs[0]) || probs[0].Code != SecretUnset {
			t.Errorf("%s: want %s (code %s), got %v", tc.ref, tc.want, SecretUnset, probs)
		}
		// Without resolution (CI validation) the same manifest is fine.
		if in, probs := Parse(path, data, Options{}); in == nil {
			t.Errorf("%s without ResolveSecrets: %v", tc.ref, probs)
		}
		// In dev mode it loads, with the same problem as a warning.
		dev := opts
		dev.AllowUnresolvedSecrets = true
		in, probs = Parse(path, data, dev)
		if in == nil || len(probs) != 1 || probs[0].Severity != Warning || probs[0].Code != SecretUnset || !strings.Contains(probs[0].Message, strings.SplitN(tc.want, ": ", 3)[2]) {
			t.Errorf("%s with AllowUnresolvedSecrets: %v", tc.ref, probs)
		} else if _, ok := in.Auth.OAuth2.ClientSecret.Value(); ok {
			t.Errorf("%s: unresolved secret has a value", tc.ref)
		}
	}
}
