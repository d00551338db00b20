package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// The token the example's backend hands the page verifies with the public
// half of the key, for the configured project and user.
func TestUserTokenVerifies(t *testing.T) {
	priv, err := usertoken.GenerateRSA(2048)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := usertoken.EncodePrivateKeyPEM(priv)
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	signer, kid, err := loadSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := usertoken.Mint(signer, kid, "dev", "demo-user", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v, err := usertoken.NewVerifier("dev", []usertoken.PublicKey{{ID: kid, Key: priv.Public()}}, usertoken.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(tok); err != nil || c.Subject != "demo-user" {
		t.Fatalf("verify: %v %v", c, err)
	}
	if !strings.Contains(indexHTML, "paragon.authenticate(projectId, token)") {
		t.Error("the page does not authenticate with the backend's token")
	}
	// The page lists and runs actions through the gateway's actions API.
	for _, want := range []string{`gateway("GET", "/sdk/actions")`, `gateway("POST", "/sdk/actions", { action:`} {
		if !strings.Contains(indexHTML, want) {
			t.Errorf("the page does not call the actions API: %s", want)
		}
	}
}
