package replicatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const everyMinuteWorkflow = `id: every-minute
title: Ping every minute
description: A schedule for every connected user.
integration: fakeoauth
enabledByDefault: true
trigger:
  schedule: {cron: "* * * * *"}
steps:
  - id: ping
    request:
      method: POST
      path: "='/echo/' + user.id"
      body: {at: "=trigger.scheduledAt"}
`

// TestWorkflowScheduleOncePerUser: three replicas run a schedule for 100
// connected users; each firing runs exactly once per user, on one of them.
func TestWorkflowScheduleOncePerUser(t *testing.T) {
	const users = 100
	c := newCluster(t)
	if err := os.WriteFile(filepath.Join(c.dir, "integrations.d", "every-minute.workflow.yaml"), []byte(everyMinuteWorkflow), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range users {
		c.connect(fmt.Sprintf("user%03d", i), 2*time.Hour)
	}
	for range 3 {
		c.add(c.start())
	}
	admin := func(path string, v any) int {
		req, _ := http.NewRequest(http.MethodGet, c.lb.URL+path, nil)
		req.Header.Set("Authorization", "Bearer replica-admin-token-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(v)
		return resp.StatusCode
	}
	var wfs struct{ Workflows []struct{ ID string } }
	if admin("/admin/v1/workflows", &wfs) != 200 || len(wfs.Workflows) != 1 {
		t.Fatalf("the replicas did not load every-minute.workflow.yaml (GET /admin/v1/workflows: %+v)", wfs)
	}
	type run struct {
		UserID  string
		Status  string
		Error   string
		Trigger struct{ ScheduledAt string }
	}
	list := func() []run {
		var all []run
		cursor := ""
		for {
			var page struct {
				Runs       []run
				NextCursor string
			}
			if admin("/admin/v1/workflow-runs?workflow=every-minute&limit=500&cursor="+url.QueryEscape(cursor), &page) != 200 {
				t.Fatal("listing runs failed")
			}
			all = append(all, page.Runs...)
			if page.NextCursor == "" {
				return all
			}
			cursor = page.NextCursor
		}
	}
	// A firing whose 100 runs all succeeded (the first comes within a
	// minute and a tick of the start).
	var done string
	waitFor(t, 3*time.Minute, "a firing run for every user", func() bool {
		succeeded := map[string]int{}
		for _, r := range list() {
			if r.Status == "succeeded" {
				succeeded[r.Trigger.ScheduledAt]++
			}
		}
		for at, n := range succeeded {
			if n == users {
				done = at
				return true
			}
		}
		return false
	})
	perUser := map[[2]string]int{}
	for _, r := range list() {
		perUser[[2]string{r.UserID, r.Trigger.ScheduledAt}]++
		if r.Status == "failed" {
			t.Errorf("run of %s at %s failed: %s", r.UserID, r.Trigger.ScheduledAt, r.Error)
		}
	}
	for k, n := range perUser {
		if n != 1 {
			t.Errorf("%s has %d runs for the firing at %s", k[0], n, k[1])
		}
	}
	for i := range users {
		if perUser[[2]string{fmt.Sprintf("user%03d", i), done}] != 1 {
			t.Errorf("user%03d has no run for the firing at %s", i, done)
		}
	}
}
