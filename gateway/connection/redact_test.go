package connection

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestCredentialNeverPrinted(t *testing.T) {
	secrets := []string{"AT-secret", "RT-secret", "CS-secret", "input-secret", "extra-secret"}
	c := &Connection{
		ID: "6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50", ProjectID: "p", UserID: "u", IntegrationID: "github",
		Status: StatusValid, ExpiresAt: time.Now(),
		Credential: Credential{
			AccessToken: secrets[0], RefreshToken: secrets[1], ClientID: "cid", ClientSecret: secrets[2],
			Inputs: map[string]string{"apiKey": secrets[3]}, Extra: map[string]string{"id_token": secrets[4]},
		},
	}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, verb+"\n", c)
		fmt.Fprintf(&out, verb+"\n", *c)
		fmt.Fprintf(&out, verb+"\n", c.Credential)
		fmt.Fprintf(&out, verb+"\n", &c.Credential)
	}
	for _, v := range []any{c, *c, c.Credential} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
	}
	for _, h := range []slog.Handler{slog.NewJSONHandler(&out, nil), slog.NewTextHandler(&out, nil)} {
		slog.New(h).Info("conn", "connection", c, "credential", c.Credential, "value", *c)
	}
	got := out.String()
	for _, s := range secrets {
		if strings.Contains(got, s) || strings.Contains(got, fmt.Sprintf("%x", s)) {
			t.Errorf("secret %q printed in:\n%s", s, got)
		}
	}
	for _, want := range []string{"access_token", "inputs[apiKey]", c.ID} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q (useful, non-secret detail):\n%s", want, got)
		}
	}
}
