package portal

import (
	"flag"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.html from the current templates")

// Golden files hold each page as a browser gets it: status and security
// headers in a leading comment, then the HTML. The per-response nonce
// becomes NONCE and the static stylesheets and scripts a placeholder, so a
// golden file shows the page's own markup.

var acme = Integration{ID: "acme", Name: "Acme", Description: "Tickets and users in your Acme account.", AccentColor: "#123456", AuthType: "api_key"}

var shop = App{Name: "Shop"}

// logo is a tiny SVG as the gateway builds it from the configured file.
const logo = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4="

// leakedSecret is a secret value the user typed; no page may contain it.
const leakedSecret = "sk_live_DO-NOT-SHOW"

func apiKeyFields() []Field {
	return []Field{
		{Key: "region", Label: "Region", Enum: []string{"us", "eu"}, Value: "us", Required: true},
		{Key: "subdomain", Label: "Subdomain", Help: `The first part of your address, e.g. "shop" for shop.acme.com.`, Placeholder: "shop"},
		{Key: "api_key", Label: "API key", Secret: true, Required: true, Help: "Settings → API → Keys."},
	}
}

func TestPagesGolden(t *testing.T) {
	oauthAcme := acme
	oauthAcme.AuthType = "oauth2"
	withError := apiKeyFields()
	withError[0].Value = "eu"
	withError[1].Value = "my-shop"
	withError[2].Value = leakedSecret // the gateway never re-fills a secret; the template must not either
	withError[2].Error = "Acme did not accept this key."
	for _, tc := range []struct {
		name       string
		status     int
		page       Page
		opts       Options
		shows      []string // user-visible facts the page must state
		mustNotSay []string
	}{
		{
			name: "form-api-key", status: 200,
			page: Page{Integration: acme, App: shop, Account: "ada@example.com", Fields: apiKeyFields(),
				Action: "/connect/portal/acme", CSRF: "csrf-123", Submit: "Connect"},
			shows: []string{"<title>Connect Acme</title>", "<strong id=\"app-name\">Shop</strong>", "<strong id=\"account\">ada@example.com</strong>",
				"Not you?", `name="csrf" value="csrf-123"`, `type="password"`, "(optional)", "stored encrypted"},
		},
		{
			name: "form-error", status: 422,
			page: Page{Integration: acme, App: shop, Account: "ada@example.com", Fields: withError,
				Action: "/connect/portal/acme", CSRF: "csrf-123", Submit: "Connect",
				Notice:   "Acme did not accept these credentials. Check them and try again.",
				Provider: &ProviderError{Status: 401, Message: `{"error":"invalid api key <script>"}`}},
			shows: []string{`id="notice"`, "Acme did not accept these credentials", "<summary>Details</summary><p>Acme answered <strong>401</strong>",
				"invalid api key &lt;script&gt;", `value="my-shop"`, `<option value="eu" selected>`, "Acme did not accept this key.", `aria-invalid="true"`},
			mustNotSay: []string{leakedSecret, "autofocus", "<script>\"}"},
		},
		{
			name: "form-oauth-continue", status: 200,
			page: Page{Integration: oauthAcme, App: App{Name: "Shop", Logo: logo}, Account: "Ada Lovelace",
				Fields: []Field{{Key: "subdomain", Label: "Subdomain", Required: true}},
				Action: "/connect/portal/acme", CSRF: "csrf-456", Submit: "Continue to Acme"},
			opts:  Options{FrameAncestors: []string{"https://app.example"}},
			shows: []string{">Continue to Acme</button>", "Ada Lovelace", `class="applogo" src="` + strings.ReplaceAll(logo, "+", "&#43;") + `"`, "sign in on Acme's own page"},
		},
		{
			name: "result-success", status: 200,
			page: Page{Integration: acme, App: shop, Account: "ada@example.com", Result: true, Success: true,
				Title: "Acme is connected", Message: "You can close this window and go back to the app."},
			shows:      []string{"<title>Acme is connected</title>", `class="result success" role="status"`, "ada@example.com", `id="close"`},
			mustNotSay: []string{"Not you?", "<form", `id="back"`},
		},
		{
			name: "result-failure-popup", status: 502,
			page: Page{Integration: acme, Result: true, Title: "Could not connect Acme", Message: "Acme refused the sign-in.",
				Provider: &ProviderError{Status: 400, Message: "invalid_grant"},
				Opener:   "https://app.example", Payload: map[string]any{"type": "plugboard:error", "message": "Acme refused </script><b>"}},
			shows: []string{`class="result failure" role="alert"`, `data-opener="https://app.example"`, "<details class=\"provider\" id=\"provider-details\"><summary>Details</summary><p>Acme answered <strong>400</strong>: <code>invalid_grant</code>",
				`id="portal-payload" type="application/json">{"message":"Acme refused \u003c/script\u003e\u003cb\u003e","type":"plugboard:error"}</script>`},
			mustNotSay: []string{"</script><b>"},
		},
		{
			name: "session-switch", status: 200,
			page: Page{Integration: acme, App: App{Name: "Shop", Logo: logo}, Account: "bob@example.com", Title: "Another account is connecting in this browser",
				Switch: &Switch{Current: "ada@example.com", CurrentURL: "/connect/portal/acme", Action: "/connect/switch/code-789"}},
			shows: []string{`<strong id="current-account">ada@example.com</strong>`, `<strong id="account">bob@example.com</strong>`,
				`action="/connect/switch/code-789"`, "Continue as bob@example.com", "Keep connecting as ada@example.com", "do not continue"},
			mustNotSay: []string{"Not you?", `id="connect-form"`},
		},
		{
			name: "redirect", status: 200,
			page:  Page{Integration: oauthAcme, Redirect: "https://idp.example/authorize?client_id=app&state=s1&scope=a+b"},
			shows: []string{"Taking you to Acme to sign in", `href="https://idp.example/authorize?client_id=app&amp;state=s1&amp;scope=a&#43;b"`},
		},
		{
			name: "result-success-return-url", status: 200,
			page: Page{Integration: acme, App: shop, Account: "ada@example.com", Result: true, Success: true,
				Title: "Acme is connected", Message: "You can go back to Shop now.", ReturnURL: "https://shop.example/settings?tab=apps&x=1"},
			shows: []string{"Connected <strong>Acme</strong> to", `<a class="button" id="back" href="https://shop.example/settings?tab=apps&amp;x=1">Back to Shop</a>`,
				`id="close-row" hidden`},
		},
		{
			name: "form-unavailable", status: 200,
			page: Page{Integration: unavailableAcme(), App: shop, Account: "ada@example.com",
				Action: "/connect/portal/acme", CSRF: "csrf-123", Submit: "Continue to Acme"},
			shows: []string{"Acme cannot be connected on this gateway yet", "<summary>Details for the gateway's operator</summary>",
				"Set environment variable ACME_CLIENT_SECRET (the OAuth client secret), then reload the manifests."},
			mustNotSay: []string{"<form", "Continue to Acme", "Not you?"},
		},
		{
			name: "result-unavailable-popup", status: 503,
			page: Page{Integration: unavailableAcme(), App: shop, Account: "ada@example.com", Result: true, Title: "Cannot connect Acme",
				Message: "Acme cannot be connected on this gateway yet: its OAuth client is not set up. Close this window and try again later.",
				Opener:  "https://app.example", Payload: map[string]string{"type": "oauth-nonce-loaded"}},
			shows: []string{`id="unavailable-details"`, "ACME_CLIENT_SECRET", "Connecting <strong>Acme</strong>"},
		},
		{
			name: "workflows", status: 200,
			page: Page{Integration: acme, App: shop, Account: "ada@example.com", WorkflowPage: true, Title: "Acme workflows", CSRF: "csrf-123",
				ReturnURL: "https://shop.example/settings", Workflows: workflows()},
			shows: []string{"<title>Acme workflows</title>", `<h2 id="wf-post-leads-title">Post new leads</h2>`,
				`<input type="checkbox" role="switch" id="wf-post-leads-enabled" name="enabled" value="on" checked aria-labelledby="wf-post-leads-state wf-post-leads-title">`,
				`name="s.channel" type="text" value="#leads"`, `<option value="loud" selected>loud</option>`, `type="number" step="any" inputmode="decimal" value="5"`,
				`name="s.mention" value="true" checked`, `id="wf-post-leads-saved">Saved: enabled.</p>`, `action="/connect/portal/acme/workflows/post-leads"`,
				`id="wf-digest-enabled" name="enabled" value="on" aria-labelledby`, `id="wf-digest-notice" tabindex="-1"><p>Fill in the highlighted settings to enable it.</p>`,
				`id="wf-digest-s-hour-error">Hour is required</p>`, "Connected <strong>Acme</strong>",
				`name="csrf" value="csrf-123"`, "&lt;img src=x onerror=alert(1)&gt;"},
			mustNotSay: []string{"Not you?", "<img src=x", `id="connect-form"`},
		},
		{
			name: "result-success-workflows", status: 200,
			page: Page{Integration: acme, App: shop, Account: "ada@example.com", Result: true, Success: true,
				Title: "Acme is connected", Message: "You can go back to Shop now.", WorkflowsURL: "/connect/portal/acme/workflows", ReturnURL: "https://shop.example/"},
			shows: []string{`<a class="button" id="workflows-link" href="/connect/portal/acme/workflows">Choose workflows</a>`, `id="back"`},
		},
		{
			name: "no-icon-no-account", status: 200,
			page:       Page{Integration: Integration{ID: "zed", Name: "zed", AccentColor: "#000000", AuthType: "basic"}, Fields: []Field{{Key: "user", Label: "User", Required: true}}, Submit: "Connect"},
			shows:      []string{`<span class="icon initial" aria-hidden="true">Z</span>`},
			mustNotSay: []string{`id="context"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Render(rec, tc.status, tc.page, tc.opts)
			body := rec.Body.String()
			checkFacts(t, body, tc.shows, tc.mustNotSay)
			golden(t, tc.name, normalise(t, rec, tc.status))
		})
	}
}

func workflows() []Workflow {
	return []Workflow{
		{ID: "post-leads", Title: "Post new leads", Description: "Posts each new lead to a channel.", Enabled: true, Saved: true,
			Action: "/connect/portal/acme/workflows/post-leads", Fields: []Field{
				{Key: "channel", Label: "Channel", Required: true, Value: "#leads", Help: "Where to post."},
				{Key: "tone", Label: "Tone", Enum: []string{"calm", "loud"}, Value: "loud"},
				{Key: "limit", Label: "Limit", Type: "number", Value: "5"},
				{Key: "mention", Label: "Mention the owner", Type: "boolean", Value: "true"},
			}},
		{ID: "digest", Title: "Daily digest <img src=x onerror=alert(1)>", Action: "/connect/portal/acme/workflows/digest",
			Notice: "Fill in the highlighted settings to enable it.", Fields: []Field{
				{Key: "hour", Label: "Hour", Type: "number", Required: true, Error: "Hour is required"},
			}},
	}
}

func unavailableAcme() Integration {
	i := acme
	i.AuthType = "oauth2"
	i.Unavailable = "Set environment variable ACME_CLIENT_SECRET (the OAuth client secret), then reload the manifests."
	return i
}

func TestUIGolden(t *testing.T) {
	rec := httptest.NewRecorder()
	RenderUI(rec, []string{"https://app.example", "http://127.0.0.1:3000"}, Options{FrameAncestors: []string{"https://app.example"}})
	checkFacts(t, rec.Body.String(), []string{`{"origins":["https://app.example","http://127.0.0.1:3000"]}`}, nil)
	golden(t, "connect-ui", normalise(t, rec, http.StatusOK))

	rec = httptest.NewRecorder()
	RenderUI(rec, nil, Options{})
	checkFacts(t, rec.Body.String(), []string{`{"origins":[]}`}, nil)
}

// Every response gets its own nonce.
func TestNonceIsFreshPerResponse(t *testing.T) {
	a, b := httptest.NewRecorder(), httptest.NewRecorder()
	Render(a, 200, Page{Integration: acme}, Options{})
	Render(b, 200, Page{Integration: acme}, Options{})
	if a.Header().Get("Content-Security-Policy") == b.Header().Get("Content-Security-Policy") {
		t.Error("two responses share a nonce")
	}
}

func checkFacts(t *testing.T, body string, shows, mustNotSay []string) {
	t.Helper()
	for _, s := range shows {
		if !strings.Contains(body, s) {
			t.Errorf("the page does not show %q", s)
		}
	}
	for _, s := range mustNotSay {
		if strings.Contains(body, s) {
			t.Errorf("the page contains %q", s)
		}
	}
}

var (
	cspNonce  = regexp.MustCompile(`'nonce-([A-Za-z0-9+/]{22})'`)
	attrNonce = regexp.MustCompile(`nonce="([^"]*)"`)
)

// normalise checks the nonce (the CSP's, on every inline style and script)
// and returns the response with the nonce and the static assets replaced.
func normalise(t *testing.T, rec *httptest.ResponseRecorder, status int) string {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status %d, want %d", rec.Code, status)
	}
	h := rec.Header()
	csp := h.Get("Content-Security-Policy")
	m := cspNonce.FindAllStringSubmatch(csp, -1)
	if len(m) != 2 || m[0][1] != m[1][1] {
		t.Fatalf("CSP %q: want one nonce for style-src and script-src", csp)
	}
	nonce := m[0][1]
	body := rec.Body.String()
	for _, a := range attrNonce.FindAllStringSubmatch(body, -1) {
		if html.UnescapeString(a[1]) != nonce {
			t.Errorf("an inline element has nonce %q, the CSP allows %q", a[1], nonce)
		}
	}
	body = attrNonce.ReplaceAllString(body, `nonce="NONCE"`)
	for name, asset := range map[string]string{"portal.css": string(css), "portal.js": string(js), "ui.css": string(uiCSS), "ui.js": string(uiJS)} {
		body = strings.ReplaceAll(body, asset, "/* templates/"+name+" */")
	}
	var head strings.Builder
	fmt.Fprintf(&head, "<!-- %d\n", rec.Code)
	for _, k := range []string{"Content-Type", "Content-Security-Policy", "Cache-Control", "X-Content-Type-Options", "Referrer-Policy"} {
		fmt.Fprintf(&head, "%s: %s\n", k, h.Get(k))
	}
	head.WriteString("-->\n")
	return strings.ReplaceAll(head.String()+body, nonce, "NONCE")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./gateway/portal -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendered page (go test ./gateway/portal -update rewrites it; review the diff):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff shows the first differing lines.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, wl, gl)
		}
	}
	return ""
}
