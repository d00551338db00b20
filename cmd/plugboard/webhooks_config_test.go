package main

import (
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// Webhook endpoints come from the config file, their secrets resolved from
// references; literal or malformed secrets are refused with the reason.
func TestWebhooksFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	key, err := usertoken.GenerateRSA(2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := usertoken.EncodePublicKeyPEM(key.Public())
	writeFile(t, filepath.Join(dir, "app.pem"), string(pub))
	const good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // 24 bytes
	t.Setenv("TEST_HOOK_SECRET", good)
	t.Setenv("TEST_HOOK_BAD", "not-a-whsec")
	load := func(hooks string) error {
		t.Helper()
		cfg := filepath.Join(dir, "plugboard.yaml")
		writeFile(t, cfg, "projects:\n  - id: app\n    keys: [app.pem]\n"+hooks)
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("config", cfg, "")
		_, wc, err := applyConfigFile(fs, cfg)
		if err == nil && wc != nil {
			if len(wc.Endpoints) != 1 || wc.Endpoints[0].URL != "https://app.example.com/hooks" || wc.Endpoints[0].ProjectID != "app" ||
				len(wc.Endpoints[0].Secret) != 24 || strings.Join(wc.Endpoints[0].Events, ",") != "connection.refresh_failed" ||
				wc.RetryHorizon != 6*time.Hour || wc.AttemptTimeout != 0 {
				t.Errorf("webhook config %+v", wc)
			}
		}
		return err
	}
	if err := load(`    webhooks:
      - url: https://app.example.com/hooks
        secret: ${TEST_HOOK_SECRET}
        events: [connection.refresh_failed]
webhooks:
  retryHorizon: 6h
`); err != nil {
		t.Fatalf("good file: %v", err)
	}
	for _, tc := range []struct{ hooks, want string }{
		{"    webhooks:\n      - url: https://app.example.com/hooks\n        secret: " + good + "\n", "secret"},
		{"    webhooks:\n      - url: https://app.example.com/hooks\n        secret: ${TEST_HOOK_BAD}\n", "whsec_"},
		{"    webhooks:\n      - url: ftp://app.example.com/hooks\n        secret: ${TEST_HOOK_SECRET}\n", "url"},
		{"    webhooks:\n      - url: https://app.example.com/hooks\n        secret: ${TEST_HOOK_SECRET}\n        events: [connection.exploded]\n", "events"},
	} {
		err := load(tc.hooks)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one mentioning %q", tc.hooks, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(good, "whsec_")) {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}
