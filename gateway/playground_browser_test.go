package gateway

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// The playground, as a person uses it on a dev gateway: it picks a user,
// connects the demo API with a key and the demo OAuth server through the
// real Connect Portal in popups, calls the API through the proxy, sees the
// token refreshed after it expired, and disconnects. Screenshots of every
// step go to the artifacts folder (playground-*.png).
func TestBrowserPlayground(t *testing.T) {
	ctx := newChrome(t)
	const lifetime = 3 * time.Second
	e := startDemoEnv(t, lifetime)

	run(t, ctx, "open the playground", chromedp.Navigate(e.base+"/"), chromedp.WaitVisible(chromedp.ID("int-demo-oauth")))
	waitText(t, ctx, "#user-status", "Signed in as ada")
	waitText(t, ctx, "#status-demo-apikey", "Not connected")
	screenshot(t, ctx, "playground-1-start")

	// API key: a wrong key first (the demo API answers 401), then the right one.
	pop := openPopup(t, ctx, "#connect-demo-apikey")
	run(t, pop, "API key form", chromedp.WaitVisible(chromedp.ID("f-api_key")))
	screenshot(t, pop, "playground-2-apikey-form")
	run(t, pop, "submit a wrong key", chromedp.SendKeys(chromedp.ID("f-api_key"), "wrong-key"), chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("notice")))
	// The demo API's 401 is behind the notice's "Details" disclosure.
	answer, _ := chromedp.Run(pop, chromedp.Evaluate[string](`document.querySelector("#notice details").textContent`))
	if got := text(t, pop, "#notice"); !strings.Contains(got, "refused the credential") || !strings.Contains(answer, "401") {
		t.Errorf("wrong key: the portal says %q, details %q", got, answer)
	}
	screenshot(t, pop, "playground-3-apikey-refused")
	run(t, pop, "submit the demo key", chromedp.SendKeys(chromedp.ID("f-api_key"), "demo-key-ada"), chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("result")))
	trySnapshot(t, pop, "playground-4-apikey-connected") // the popup closes itself shortly
	waitText(t, ctx, "#status-demo-apikey", "Connected")
	waitClosed(t, ctx, pop)

	// OAuth: the portal, then the demo server's sign-in page, as grace.
	pop = openPopup(t, ctx, "#connect-demo-oauth")
	run(t, pop, "portal page", chromedp.WaitVisible(chromedp.ID("submit")))
	if got := text(t, pop, "#submit"); got != "Continue to Demo Cloud (OAuth)" {
		t.Errorf("portal button says %q", got)
	}
	screenshot(t, pop, "playground-5-oauth-portal")
	run(t, pop, "continue to the demo OAuth server", chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("allow")))
	if loc := location(t, pop); !strings.HasPrefix(loc, e.base+"/demo/oauth/authorize?") || !strings.Contains(loc, "code_challenge_method=S256") {
		t.Errorf("sign-in page at %s", loc)
	}
	screenshot(t, pop, "playground-6-oauth-signin")
	run(t, pop, "sign in as grace", chromedp.Click(chromedp.ID("user-grace")), chromedp.Click(chromedp.ID("allow")),
		chromedp.WaitVisible(chromedp.ID("result")))
	trySnapshot(t, pop, "playground-7-oauth-connected")
	waitText(t, ctx, "#status-demo-oauth", "Connected")
	waitClosed(t, ctx, pop)
	screenshot(t, ctx, "playground-8-connected")

	// A proxied call, then another after the access token expired.
	first := proxiedMe(t, ctx, "demo-oauth")
	if first.User != "grace" || first.Auth != "oauth2" {
		t.Errorf("first call answered %+v", first)
	}
	screenshot(t, ctx, "playground-9-proxied-call")
	time.Sleep(lifetime + 500*time.Millisecond)
	second := proxiedMe(t, ctx, "demo-oauth")
	if second.User != "grace" || second.Token.EndsWith == "" || second.Token.EndsWith == first.Token.EndsWith {
		t.Errorf("after expiry the call used token …%s, before …%s: not refreshed", second.Token.EndsWith, first.Token.EndsWith)
	}
	screenshot(t, ctx, "playground-10-after-refresh")

	// Disconnect both.
	run(t, ctx, "disconnect the API key", chromedp.Click(chromedp.ID("disconnect-demo-apikey")))
	waitText(t, ctx, "#status-demo-apikey", "Not connected")
	run(t, ctx, "disconnect OAuth", chromedp.Click(chromedp.ID("disconnect-demo-oauth")))
	waitText(t, ctx, "#status-demo-oauth", "Not connected")
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/demo-oauth/me", e.token("grace"), nil, nil); r.status != 404 || !strings.Contains(r.body, "not_connected") {
		t.Errorf("after disconnecting: %d %s", r.status, r.body)
	}
	screenshot(t, ctx, "playground-11-disconnected")
}

// me is what the demo API's /me answers, inside the proxy's {"output": …}.
type me struct {
	User, Auth string
	Token      struct{ EndsWith string }
}

// proxiedMe sends GET /me for integration from the playground's request
// form and returns the answer it shows.
func proxiedMe(t *testing.T, ctx context.Context, integration string) me {
	t.Helper()
	run(t, ctx, "send a request",
		chromedp.SetValue(chromedp.ID("req-integration"), integration),
		chromedp.SetValue(chromedp.ID("req-method"), "GET"),
		chromedp.SetValue(chromedp.ID("req-path"), "/me"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("resp-status").textContent = ""`),
		chromedp.Click(chromedp.ID("send")))
	waitText(t, ctx, "#resp-status", "200")
	var out struct{ Output me }
	if body := text(t, ctx, "#resp-body"); json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("the answer shown is not the proxy's JSON: %s", body)
	}
	return out.Output
}

// openPopup clicks sel and returns a context attached to the window it opens.
func openPopup(t *testing.T, ctx context.Context, sel string) context.Context {
	t.Helper()
	before := map[target.ID]bool{}
	if infos, err := chromedp.Targets(ctx); err == nil {
		for _, i := range infos {
			before[i.TargetID] = true
		}
	}
	ch := chromedp.WaitNewTarget(ctx, func(i *target.Info) bool { return i.Type == "page" })
	// The playground redraws its list when a status changes: a node found
	// for the click may be replaced before it is clicked. Find it again.
	for try := 1; ; try++ {
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err == nil {
			break
		}
		if try == 5 || !strings.Contains(err.Error(), "Could not find node") {
			t.Fatalf("click %s: %v", sel, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var first target.ID
	select {
	case first = <-ch:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s opened no popup", sel)
	}
	// The first page target seen may be gone by the time it is attached
	// to (Chromium can replace a new window's target as it navigates):
	// then take the page that is there now.
	deadline := time.Now().Add(15 * time.Second)
	for id := first; ; {
		pctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
		if _, err := chromedp.Run(pctx, chromedp.Location()); err == nil {
			t.Cleanup(cancel)
			return pctx
		} else if time.Now().After(deadline) {
			cancel()
			t.Fatalf("%s: the popup cannot be attached to: %v", sel, err)
		}
		cancel()
		time.Sleep(100 * time.Millisecond)
		if infos, err := chromedp.Targets(ctx); err == nil {
			for _, i := range infos {
				if i.Type == "page" && !before[i.TargetID] {
					id = i.TargetID
				}
			}
		}
	}
}

// waitClosed waits until the popup has closed itself, as the portal's
// result page does in a popup.
func waitClosed(t *testing.T, ctx, pop context.Context) {
	t.Helper()
	id := chromedp.FromContext(pop).Target.TargetID
	testfix.Eventually(t, "the popup closes itself", func() bool {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			return false
		}
		for _, i := range infos {
			if i.TargetID == id {
				return false
			}
		}
		return true
	})
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	var got string
	testfix.EventuallySaw(t, sel+" says "+want, func() (bool, string) {
		got, _ = read(ctx, chromedp.Text(chromedp.CSS(sel)))
		if want == "Connected" { // not "Not connected"
			return got == want, got
		}
		return strings.Contains(got, want), got
	})
}

// trySnapshot takes a screenshot of a page that may close itself (a
// popup after connecting) and does not fail when it has.
func trySnapshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: the window had closed (%v)", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(artifactsDir(t), name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
