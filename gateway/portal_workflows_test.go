package gateway

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/store"
)

// When a workflow's form is refused and the stored choices cannot be read
// to show the page again, the portal says so instead of listing nothing.
func TestPortalWorkflowsRefusedSaveWhenChoicesCannotBeRead(t *testing.T) {
	e := startProxyEnvWith(t, withWorkflowFiles(t, testWorkflowFiles))
	e.connectKey("wendy", "fakekey", "wf-key-1")
	b := newBrowser(t)
	status, _, at := b.get(e.connectLink("wendy", "custom.fakekey"))
	if status != 200 {
		t.Fatalf("connect link: %d at %s", status, at)
	}
	status, page, _ := b.get(e.base + "/connect/portal/fakekey/workflows")
	csrf := csrfRE.FindStringSubmatch(page)
	if status != 200 || csrf == nil || !strings.Contains(page, `id="wf-post-leads-enabled"`) {
		t.Fatalf("workflows page: %d %s", status, page)
	}
	form := url.Values{"csrf": {csrf[1]}, "enabled": {"on"}, "s.channel": {"#leads"}, "s.limit": {"ten"}}

	// Refused while the store reads: the page again, the problem shown.
	status, page, _ = b.post(e.base+"/connect/portal/fakekey/workflows/post-leads", form)
	if status != 400 || !strings.Contains(page, `id="wf-post-leads-enabled"`) || !strings.Contains(page, "must be a number") {
		t.Fatalf("refused save: %d %s", status, page)
	}

	// The real SQLite store loses the table of choices: reading them fails,
	// while connections still read.
	if _, err := e.store.(*store.SQLite).DB().ExecContext(context.Background(), `DROP TABLE workflow_settings`); err != nil {
		t.Fatal(err)
	}
	status, page, _ = b.post(e.base+"/connect/portal/fakekey/workflows/post-leads", form)
	if status != 503 {
		t.Errorf("refused save, choices unreadable: status %d, want 503", status)
	}
	for _, want := range []string{"Post new leads was not saved", "Most leads a day: must be a number", "The workflows could not be read either. Reload the page to try again."} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not say %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "Fake Key workflows") {
		t.Errorf("an empty workflows page was rendered:\n%s", page)
	}
}
