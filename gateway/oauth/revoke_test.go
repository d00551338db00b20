package oauth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

func TestRevoke(t *testing.T) {
	for _, tc := range []struct {
		name      string
		style     string
		cred      connection.Credential
		token     string
		hint      string
		wantCalls int
	}{
		{"refresh token first", "header", connection.Credential{AccessToken: "at", RefreshToken: "rt"}, "rt", "refresh_token", 1},
		{"access token without a refresh token", "header", connection.Credential{AccessToken: "at"}, "at", "access_token", 1},
		{"client auth in the body", "body", connection.Credential{AccessToken: "at", RefreshToken: "rt"}, "rt", "refresh_token", 1},
		{"nothing to revoke", "header", connection.Credential{}, "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := newTokenEndpoint(t, 200, ``)
			in := parse(t, oauth2Manifest(ep.URL, "    tokenAuthStyle: "+tc.style+"\n"))
			tc.cred.Inputs = tenant
			if err := testClient().Revoke(context.Background(), in, tc.cred); err != nil {
				t.Fatal(err)
			}
			got := ep.requests()
			if len(got) != tc.wantCalls {
				t.Fatalf("revocation endpoint got %d requests, want %d", len(got), tc.wantCalls)
			}
			if tc.wantCalls == 0 {
				return
			}
			req := got[0]
			if req.Path != "/acme/revoke" || req.Form.Get("token") != tc.token || req.Form.Get("token_type_hint") != tc.hint {
				t.Errorf("request: %s %v, want token %q hint %q", req.Path, req.Form, tc.token, tc.hint)
			}
			checkClientAuth(t, req, tc.style, "app-client", clientSecret)
		})
	}
}

func TestRevokeWithoutRevocationURLDoesNothing(t *testing.T) {
	ep := newTokenEndpoint(t, 200, ``)
	yaml := strings.Replace(oauth2Manifest(ep.URL, ""), "    revocationUrl: "+ep.URL+"/{{inputs.tenant}}/revoke\n", "", 1)
	in := parse(t, yaml)
	if in.Auth.OAuth2.RevocationURL != nil {
		t.Fatal("the manifest still has a revocation URL")
	}
	if err := testClient().Revoke(context.Background(), in, connection.Credential{RefreshToken: "rt", Inputs: tenant}); err != nil {
		t.Fatal(err)
	}
	if got := ep.requests(); len(got) != 0 {
		t.Errorf("revocation without a revocationUrl called %+v", got)
	}
}

func TestRevokeRefused(t *testing.T) {
	ep := newTokenEndpoint(t, 503, `{"error":"temporarily_unavailable"}`)
	in := parse(t, oauth2Manifest(ep.URL, ""))
	err := testClient().Revoke(context.Background(), in, connection.Credential{RefreshToken: "rt", Inputs: tenant})
	if err == nil || err.Error() != "revocation endpoint answered 503" {
		t.Errorf("err = %v, want the status", err)
	}
}
