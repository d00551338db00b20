package gateway

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/plugboardhq/plugboard/gateway/connection"
)

// TestBrowserConsole signs in to the admin console in Chromium, sees a
// rejected manifest's located problem, filters connections, opens one,
// disconnects another and sees a recent gateway error.
func TestBrowserConsole(t *testing.T) {
	ctx := newChrome(t)
	e := startProxyEnv(t)
	writeFile(t, filepath.Join(e.srv.cfg.ManifestDir, "broken.yaml"), "id: broken\nname: Broken\nauth:\n  type: telepathy\n")
	if rep := e.srv.Reloader().Reload("test"); len(rep.Problems) == 0 {
		t.Fatal("broken.yaml was accepted")
	}
	e.connectOAuth("ann", time.Hour)
	e.connectOAuth("bea", -time.Minute)
	keep := e.storeConn(&connection.Connection{UserID: "bea", IntegrationID: "fakekey",
		Credential: connection.Credential{Inputs: map[string]string{"api_key": "secret-input-value-7731"}}})
	e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", "not-a-user-token", nil, nil) // a gateway error

	run(t, ctx, "open the console", chromedp.Navigate(e.base+"/admin/"), chromedp.WaitVisible(chromedp.ID("token")))
	screenshot(t, ctx, "console-1-sign-in")
	run(t, ctx, "sign in with a wrong token", chromedp.SendKeys(chromedp.ID("token"), "wrong-token-000000"),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("problem")))
	if got := text(t, ctx, "#problem"); got != "That is not the admin token." {
		t.Errorf("wrong token: %q", got)
	}
	run(t, ctx, "sign in", chromedp.SendKeys(chromedp.ID("token"), e.admin),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("revision")))
	if got := text(t, ctx, "#revision"); got != e.srv.Reloader().Catalog().Revision() {
		t.Errorf("revision %q", got)
	}
	screenshot(t, ctx, "console-2-overview")

	run(t, ctx, "integrations", chromedp.Click(chromedp.CSS(`nav a[href="/admin/integrations"]`)), chromedp.WaitVisible(chromedp.ID("integrations")))
	row := text(t, ctx, `tr[data-file$="broken.yaml"]`)
	if !strings.Contains(row, "rejected") || !regexp.MustCompile(`broken\.yaml:\d+:\d+: `).MatchString(row) {
		t.Errorf("broken.yaml's row: %q", row)
	}
	screenshot(t, ctx, "console-3-integrations")

	run(t, ctx, "connections", chromedp.Click(chromedp.CSS(`nav a[href="/admin/connections"]`)), chromedp.WaitVisible(chromedp.ID("connections")))
	run(t, ctx, "filter by user", chromedp.SendKeys(chromedp.ID("f-user"), "bea"), chromedp.Click(chromedp.ID("filter")),
		chromedp.WaitVisible(chromedp.CSS(`.actions a[href="/admin/connections"]`))) // the Clear link: only on the filtered page
	rows := text(t, ctx, "#connections tbody")
	if strings.Contains(rows, "ann") || strings.Count(rows, "dev / bea") != 2 || !strings.Contains(rows, "expired_refreshable") {
		t.Errorf("filtered rows: %q", rows)
	}
	screenshot(t, ctx, "console-4-connections-filtered")

	run(t, ctx, "open one", chromedp.Click(chromedp.CSS(`tr[data-id="`+keep.ID+`"] td a`)), chromedp.WaitVisible(chromedp.ID("detail")))
	detail := text(t, ctx, "#detail")
	if !strings.Contains(detail, keep.ID) || strings.Contains(detail, "secret-input-value-7731") || !strings.Contains(detail, "api_key") {
		t.Errorf("detail: %q", detail)
	}
	screenshot(t, ctx, "console-5-connection")

	run(t, ctx, "disconnect", chromedp.Click(chromedp.ID("disconnect")), chromedp.WaitVisible(chromedp.ID("notice")))
	if got := text(t, ctx, "#notice"); !strings.Contains(got, "disconnected") {
		t.Errorf("notice: %q", got)
	}
	if body := text(t, ctx, "#connections tbody"); strings.Contains(body, "Fake Key") {
		t.Errorf("the disconnected connection is still listed: %q", body)
	}
	screenshot(t, ctx, "console-6-disconnected")

	run(t, ctx, "recent errors", chromedp.Click(chromedp.CSS(`nav a[href="/admin/errors"]`)), chromedp.WaitVisible(chromedp.ID("errors")))
	errs := text(t, ctx, "#errors tbody")
	if !strings.Contains(errs, "/projects/{pid}/sdk/proxy") || strings.Contains(errs, "not-a-user-token") {
		t.Errorf("recent errors: %q", errs)
	}
	screenshot(t, ctx, "console-7-errors")
}
