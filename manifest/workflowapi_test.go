package manifest

import (
	"maps"
	"slices"
	"testing"
)

func triageWorkflow(t *testing.T) *Workflow {
	t.Helper()
	for _, wf := range loadGoodWorkflows(t).Workflows() {
		if wf.ID == "triage-tickets" {
			return wf
		}
	}
	t.Fatal("no triage-tickets")
	return nil
}

func TestWorkflowWalkAndStep(t *testing.T) {
	wf := triageWorkflow(t)
	var ids []string
	wf.Walk(func(s *Step) { ids = append(ids, s.ID) })
	if want := []string{"fetch", "me", "many", "each", "label", "note", "answer"}; !slices.Equal(ids, want) {
		t.Errorf("Walk: %v, want %v", ids, want)
	}
	if s := wf.Step("label"); s == nil || s.Action != "create_ticket" {
		t.Errorf("Step(label) = %+v", s)
	}
	if s := wf.Step("nope"); s != nil {
		t.Errorf("Step(nope) = %+v", s)
	}
}

func TestWorkflowFillSettings(t *testing.T) {
	wf := triageWorkflow(t)
	got := wf.FillSettings(map[string]any{"project": "WEB", "notify": true, "stray": 1.0})
	want := map[string]any{"project": "WEB", "urgent_after": 3.0, "notify": true, "level": "low"}
	if !maps.Equal(got, want) {
		t.Errorf("FillSettings = %v, want %v", got, want)
	}
}

func TestWorkflowCheckSettings(t *testing.T) {
	wf := triageWorkflow(t)
	if p := wf.CheckSettings(map[string]any{"project": "OPS", "urgent_after": 2.0, "notify": false, "level": "high"}); p != nil {
		t.Errorf("valid settings: %v", p)
	}
	// project is required but has a default: leaving it out is fine.
	if p := wf.CheckSettings(map[string]any{}); p != nil {
		t.Errorf("defaults only: %v", p)
	}
	got := wf.CheckSettings(map[string]any{"project": 3.0, "urgent_after": "3", "notify": "yes", "level": "medium", "extra": true})
	want := map[string]string{
		"project":      "Project must be text",
		"urgent_after": "Urgent after (days) must be a number",
		"notify":       "Notify must be true or false",
		"level":        "Level must be one of: low, high",
		"extra":        `"extra" is not a setting of this workflow`,
	}
	if !maps.Equal(got, want) {
		t.Errorf("CheckSettings = %v, want %v", got, want)
	}
	required := &Workflow{Settings: []WorkflowSetting{{Key: "channel", Label: "Channel", Type: "string", Required: true}}}
	if got := required.CheckSettings(map[string]any{"channel": ""}); got["channel"] != "Channel is required" {
		t.Errorf("missing required: %v", got)
	}
}
