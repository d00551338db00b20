package origin

import (
	"os"
	"strings"
	"testing"
)

func TestReturnURLAllowed(t *testing.T) {
	a := Allowlist{"https://app.example.com", "http://127.0.0.1:3000"}
	for raw, want := range map[string]string{
		"https://app.example.com":                       "https://app.example.com",
		"https://app.example.com/settings?tab=apps#top": "https://app.example.com/settings?tab=apps#top",
		"https://APP.example.com:443/x":                 "https://app.example.com/x",
		"HTTPS://app.example.com/x":                     "https://app.example.com/x",
		"http://127.0.0.1:3000/integrations":            "http://127.0.0.1:3000/integrations",
	} {
		got, err := a.ReturnURL(raw)
		if err != nil || got != want {
			t.Errorf("ReturnURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

// TestReturnURLRefused runs the open-redirect payloads of
// testdata/return-urls.txt: none may pass.
func TestReturnURLRefused(t *testing.T) {
	b, err := os.ReadFile("testdata/return-urls.txt")
	if err != nil {
		t.Fatal(err)
	}
	a := Allowlist{"https://app.example.com"}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		n++
		if got, err := a.ReturnURL(line); err == nil {
			t.Errorf("ReturnURL(%q) accepted as %q", line, got)
		}
	}
	if n < 20 {
		t.Fatalf("only %d payloads read", n)
	}
	if _, err := a.ReturnURL("https://app.example.com/" + strings.Repeat("a", MaxReturnURLLength)); err == nil {
		t.Error("an overlong URL was accepted")
	}
	_, err = a.ReturnURL("https://evil.example/")
	if err == nil || err.Error() != `returnUrl is on "https://evil.example", which is not one of the gateway's allowed origins (--allowed-origins)` {
		t.Errorf("refusal says %v", err)
	}
}
