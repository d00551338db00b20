package workflow

import (
	"context"
	"sort"

	"github.com/plugboardhq/plugboard/gateway/store"
)

// Info describes a loaded workflow for operators (GET /admin/v1/workflows).
type Info struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Integration string   `json:"integration"`
	Trigger     string   `json:"trigger"`         // request, event, lifecycle or schedule
	Event       string   `json:"event,omitempty"` // an event trigger's name
	Lifecycle   []string `json:"lifecycle,omitempty"`
	Cron        string   `json:"cron,omitempty"`
	Timezone    string   `json:"timezone,omitempty"`
	Steps       int      `json:"steps"` // top-level steps
	Source      string   `json:"source"`
	Hash        string   `json:"hash"`
}

// Workflows lists the loaded workflows, by id.
func (e *Engine) Workflows() []Info {
	var out []Info
	for _, wf := range e.catalog().Workflows() {
		i := Info{ID: wf.ID, Title: wf.Title, Description: wf.Description, Integration: wf.Integration,
			Trigger: string(wf.Trigger.Type), Event: wf.Trigger.Event, Lifecycle: wf.Trigger.Lifecycle, Cron: wf.Trigger.Cron,
			Steps: len(wf.Steps), Source: wf.Source, Hash: wf.Hash}
		if wf.Trigger.Timezone != nil {
			i.Timezone = wf.Trigger.Timezone.String()
		}
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Runs lists runs, newest first.
func (e *Engine) Runs(ctx context.Context, f store.RunFilter) (store.RunPage, error) {
	return e.cfg.Runs.ListRuns(ctx, f)
}

// RunDetail is one run step by step.
type RunDetail struct {
	*store.WorkflowRun
	Steps []*store.WorkflowStep `json:"steps"`
}

// Run returns one run with its steps in execution order. Unknown:
// store.ErrNotFound.
func (e *Engine) Run(ctx context.Context, id string) (*RunDetail, error) {
	run, err := e.cfg.Runs.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	steps, err := e.cfg.Runs.RunSteps(ctx, id)
	if err != nil {
		return nil, err
	}
	if steps == nil {
		steps = []*store.WorkflowStep{}
	}
	return &RunDetail{WorkflowRun: run, Steps: steps}, nil
}
