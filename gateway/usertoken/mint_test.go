package usertoken

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestMint(t *testing.T) {
	k := keys(t)
	v, _ := newTestVerifier(t, Options{})
	for _, tc := range []struct {
		key crypto.Signer
		alg string
	}{{k.rsa, "RS256"}, {k.ec, "ES256"}} {
		t.Run(tc.alg, func(t *testing.T) {
			tok, err := Mint(tc.key, kid(t, tc.key), project, "user-1", 10*time.Minute, t0)
			if err != nil {
				t.Fatal(err)
			}
			var header map[string]any
			var payload map[string]any
			decodeSegment(t, segments(tok)[0], &header)
			decodeSegment(t, segments(tok)[1], &payload)
			if header["alg"] != tc.alg || header["kid"] != kid(t, tc.key) {
				t.Fatalf("header = %v", header)
			}
			aud, _ := payload["aud"].([]any)
			if len(aud) != 1 || aud[0] != project || payload["sub"] != "user-1" ||
				payload["iat"] != float64(t0.Unix()) || payload["exp"] != float64(t0.Add(10*time.Minute).Unix()) {
				t.Fatalf("payload = %v", payload)
			}
			c, err := v.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "user-1" || !c.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
	t.Run("without kid", func(t *testing.T) {
		tok, err := Mint(k.ec, "", project, "user-1", time.Minute, t0)
		if err != nil {
			t.Fatal(err)
		}
		var header map[string]any
		decodeSegment(t, segments(tok)[0], &header)
		if _, ok := header["kid"]; ok {
			t.Fatalf("header = %v", header)
		}
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMintRefuses(t *testing.T) {
	k := keys(t)
	small, err := rsaKeyOfSize(1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     crypto.Signer
		project string
		subject string
		ttl     time.Duration
		wantErr string
	}{
		{"nil key", nil, project, "u", time.Minute, "no signing key"},
		{"small RSA", small, project, "u", time.Minute, "1024 bits"},
		{"P-384", p384(t), project, "u", time.Minute, "P-384"},
		{"no project", k.rsa, "", "u", time.Minute, "empty project id"},
		{"empty subject", k.rsa, project, "", time.Minute, "subject is empty"},
		{"long subject", k.rsa, project, strings.Repeat("a", 257), time.Minute, "longer than 256"},
		{"control in subject", k.rsa, project, "a\tb", time.Minute, "control character"},
		{"invalid UTF-8", k.rsa, project, "a\xff", time.Minute, "UTF-8"},
		{"zero ttl", k.rsa, project, "u", 0, "shorter than a second"},
		{"negative ttl", k.rsa, project, "u", -time.Hour, "shorter than a second"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Mint(tc.key, "", tc.project, tc.subject, tc.ttl, t0)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
