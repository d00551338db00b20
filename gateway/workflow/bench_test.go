package workflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/workflow"
	"github.com/plugboardhq/plugboard/manifest"
)

// BenchmarkRunsSQLite: runs of a three-step workflow (two requests on a
// local API, a condition) from their trigger to their end, b.N at a time
// across 20 users, on SQLite. Reports runs and steps per second.
func BenchmarkRunsSQLite(b *testing.B) {
	wf := newWorkflow("bench", manifest.Trigger{Type: manifest.TriggerEvent, Event: "go"},
		requestStep(b, "a", "POST", "/echo/a", manifest.Retry{Attempts: 1}),
		&manifest.Step{ID: "check", Kind: manifest.StepCondition, If: expr(b, "steps.a.status == 200")},
		requestStep(b, "b", "POST", "/echo/b", manifest.Retry{Attempts: 1}))
	e := newEnv(b, envOptions{workflows: []*manifest.Workflow{wf}, limits: workflow.Limits{MaxRunsPerProject: -1, MaxRunsPerUser: -1}})
	users := []string{}
	for i := range 20 {
		u := "u" + string(rune('a'+i))
		e.connect(u)
		users = append(users, u)
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var ids []string
	for i := range b.N {
		runs, err := e.engine.TriggerEvent(ctx, "dev", users[i%len(users)], "go", map[string]any{})
		if err != nil || len(runs) != 1 {
			b.Fatal(runs, err)
		}
		ids = append(ids, runs[0].ID)
	}
	for _, id := range ids {
		if d := e.wait(id); d.Status != store.RunSucceeded {
			b.Fatalf("run %s: %s", d.Status, d.Error)
		}
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/secs, "runs/s")
	b.ReportMetric(float64(3*b.N)/secs, "steps/s")
}
