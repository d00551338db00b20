package workflow_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/workflow"
	"github.com/plugboardhq/plugboard/manifest"
)

func scheduleWorkflow(t testing.TB) *manifest.Workflow {
	return newWorkflow("daily", manifest.Trigger{Type: manifest.TriggerSchedule, Cron: "0 9 * * *", Timezone: time.UTC},
		&manifest.Step{ID: "report", Kind: manifest.StepRequest, Method: "POST", Path: value(t, "='/echo/daily/' + user.id"),
			Body: value(t, map[string]any{"at": "=trigger.scheduledAt"}), Retry: manifest.Retry{Attempts: 3, Backoff: 10 * time.Millisecond}})
}

func TestFirings(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	wf := newWorkflow("w", manifest.Trigger{Type: manifest.TriggerSchedule, Cron: "0 9 * * 1-5", Timezone: paris})
	// Friday 2026-12-04 to Tuesday 2026-12-08, 09:00 in Paris is 08:00 UTC.
	got, err := workflow.Firings(wf, time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 8, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2026-12-04T08:00:00Z", "2026-12-07T08:00:00Z", "2026-12-08T08:00:00Z"}
	if fmt.Sprint(len(got)) != fmt.Sprint(len(want)) {
		t.Fatalf("firings %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Format(time.RFC3339) != want[i] {
			t.Errorf("firing %d = %s, want %s", i, got[i].Format(time.RFC3339), want[i])
		}
	}
}

// Three replicas on one PostgreSQL database, each with its own River
// client, store pool and schedule tick: the 09:00 firing of a daily
// schedule runs once for each of the 100 users who connected the CRM.
func TestScheduleOnThreeReplicasFiresOncePerUser(t *testing.T) {
	dsn := freshPostgres(t)
	crm := newFakeCRM(t)
	// The clock stands before the firing while the users connect.
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 7, 8, 59, 0, 0, time.UTC).Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0).UTC() }
	var replicas []*env
	for range 3 {
		replicas = append(replicas, newEnv(t, envOptions{postgresDSN: dsn, crmURL: crm.srv.URL, tick: 100 * time.Millisecond, now: now,
			workflows: []*manifest.Workflow{scheduleWorkflow(t)}}))
	}
	ctx := context.Background()
	const users = 100
	for i := range users {
		user := fmt.Sprintf("user%03d", i)
		crm.addKey("key-"+user, user)
		c := &connection.Connection{ProjectID: "dev", UserID: user, IntegrationID: "crm", Status: connection.StatusValid,
			Credential: connection.Credential{Inputs: map[string]string{"api_key": "key-" + user}}}
		if err := replicas[i%3].st.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// A user with two connections is one user; one without the workflow
	// enabled gets no run.
	extra := &connection.Connection{ProjectID: "dev", UserID: "user000", IntegrationID: "crm", Status: connection.StatusValid,
		Credential: connection.Credential{Inputs: map[string]string{"api_key": "key-user000"}}}
	if err := replicas[0].st.Create(ctx, extra); err != nil {
		t.Fatal(err)
	}
	off := &connection.Connection{ProjectID: "dev", UserID: "off", IntegrationID: "crm", Status: connection.StatusValid,
		Credential: connection.Credential{Inputs: map[string]string{"api_key": "key-off"}}}
	if err := replicas[1].st.Create(ctx, off); err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		r.settings.disable("off", "daily")
	}

	clock.Store(time.Date(2026, 12, 7, 9, 0, 30, 0, time.UTC).Unix())
	count := func(status store.RunStatus) int {
		page, err := replicas[0].engine.Runs(ctx, store.RunFilter{WorkflowID: "daily", Status: status, Limit: store.MaxPageLimit})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Runs)
	}
	waitFor(t, "100 scheduled runs succeeded", func() bool { return count(store.RunSucceeded) == users })
	// However often the schedule is looked at again, on any replica
	// (ticks go on meanwhile), the firing has run.
	for _, r := range replicas {
		n, err := r.engine.FireSchedules(ctx)
		if err != nil || n != 0 {
			t.Errorf("firing again created %d runs (%v)", n, err)
		}
	}
	if n := count(""); n != users {
		t.Errorf("%d runs, want %d", n, users)
	}
	if page, _ := replicas[0].engine.Runs(ctx, store.RunFilter{UserID: "off"}); len(page.Runs) != 0 {
		t.Errorf("a user who disabled the workflow has %d runs", len(page.Runs))
	}
	for i := range users {
		if n := crm.count(fmt.Sprintf("POST /api/echo/daily/user%03d", i)); n != 1 {
			t.Errorf("user%03d's report was sent %d times", i, n)
		}
	}
	page, _ := replicas[1].engine.Runs(ctx, store.RunFilter{UserID: "user042"})
	if len(page.Runs) != 1 {
		t.Fatalf("user042's runs: %d", len(page.Runs))
	}
	d, err := replicas[2].engine.Run(ctx, page.Runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if sent := mustJSON(t, d.Steps[0].Output)["body"].(map[string]any)["body"].(map[string]any); sent["at"] != "2026-12-07T09:00:00Z" {
		t.Errorf("scheduledAt = %v", sent["at"])
	}
}
