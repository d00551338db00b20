package storetest

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
)

// testWorkflow declares one setting of each kind.
func testWorkflow(id string) *manifest.Workflow {
	return &manifest.Workflow{ID: id, Title: "Post leads", Integration: "slack", Trigger: manifest.Trigger{Type: manifest.TriggerEvent, Event: "lead.created"},
		Settings: []manifest.WorkflowSetting{
			{Key: "channel", Label: "Channel", Type: "string", Required: true},
			{Key: "tone", Label: "Tone", Type: "string", Enum: []string{"calm", "loud"}, Default: "calm"},
			{Key: "limit", Label: "Limit", Type: "number", Default: 10.0},
			{Key: "mention", Label: "Mention the owner", Type: "boolean", Default: false},
		}}
}

func fieldKeys(err error) string {
	var se *store.SettingsError
	if !errors.As(err, &se) {
		return "not a SettingsError: " + errString(err)
	}
	keys := make([]string, len(se.Fields))
	for i, f := range se.Fields {
		keys[i] = f.Key
	}
	return strings.Join(keys, ",")
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// testWorkflowChoices: a user who never chose gets the workflow's default;
// a choice is stored per (project, user, workflow) and read back as saved.
func testWorkflowChoices(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := t.Context()
	wf := testWorkflow("post-leads")
	if _, err := s.GetWorkflow(ctx, "p1", "u1", wf.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetWorkflow before any choice: %v, want ErrNotFound", err)
	}
	enabled, settings, err := s.UserWorkflow(ctx, "p1", "u1", wf)
	if err != nil || enabled || !reflect.DeepEqual(settings, map[string]any{"tone": "calm", "limit": 10.0, "mention": false}) {
		t.Fatalf("UserWorkflow before any choice: %v %v %v", enabled, settings, err)
	}
	byDefault := testWorkflow("by-default")
	byDefault.EnabledByDefault, byDefault.Settings = true, nil
	if enabled, _, err := s.UserWorkflow(ctx, "p1", "u1", byDefault); err != nil || !enabled {
		t.Fatalf("enabledByDefault, never chosen: %v %v", enabled, err)
	}

	c, err := s.SetWorkflow(ctx, "p1", "u1", wf, true, map[string]any{"channel": "#leads", "limit": 3, "mention": true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"channel": "#leads", "limit": 3.0, "mention": true}
	if !c.Enabled || !reflect.DeepEqual(c.Settings, want) || c.UpdatedAt.IsZero() {
		t.Fatalf("SetWorkflow returned %+v", c)
	}
	got, err := s.GetWorkflow(ctx, "p1", "u1", wf.ID)
	if err != nil || !got.Enabled || !reflect.DeepEqual(got.Settings, want) || !got.UpdatedAt.Equal(c.UpdatedAt) {
		t.Fatalf("GetWorkflow: %+v %v, want %+v", got, err, c)
	}
	enabled, settings, err = s.UserWorkflow(ctx, "p1", "u1", wf)
	if err != nil || !enabled || !reflect.DeepEqual(settings, map[string]any{"channel": "#leads", "tone": "calm", "limit": 3.0, "mention": true}) {
		t.Fatalf("UserWorkflow: %v %v %v", enabled, settings, err)
	}
	// Disabling a workflow enabled by default sticks.
	if _, err := s.SetWorkflow(ctx, "p1", "u1", byDefault, false, nil); err != nil {
		t.Fatal(err)
	}
	if enabled, _, _ := s.UserWorkflow(ctx, "p1", "u1", byDefault); enabled {
		t.Error("a workflow enabled by default and disabled by the user still runs")
	}
	// Other users and projects see nothing of it.
	for _, who := range [][2]string{{"p1", "u2"}, {"p2", "u1"}} {
		if _, err := s.GetWorkflow(ctx, who[0], who[1], wf.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%v sees u1's choice: %v", who, err)
		}
	}
	list, err := s.ListWorkflows(ctx, "p1", "u1")
	if err != nil || len(list) != 2 || list[0].WorkflowID != "by-default" || list[1].WorkflowID != "post-leads" {
		t.Fatalf("ListWorkflows: %+v %v", list, err)
	}
	if list, err := s.ListWorkflows(ctx, "p1", "nobody"); err != nil || list == nil || len(list) != 0 {
		t.Errorf("ListWorkflows of a user without choices: %#v %v, want an empty list", list, err)
	}
}

// testWorkflowSettingsChecked: settings are checked against the
// workflow's declarations, all problems at once, and nothing is written.
func testWorkflowSettingsChecked(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := t.Context()
	wf := testWorkflow("post-leads")
	for _, tc := range []struct {
		name     string
		enabled  bool
		settings map[string]any
		keys     string
	}{
		{"required when enabled", true, map[string]any{}, "channel"},
		{"empty counts as missing", true, map[string]any{"channel": ""}, "channel"},
		{"types", true, map[string]any{"channel": 5.0, "limit": "ten", "mention": "yes"}, "channel,limit,mention"},
		{"enum", true, map[string]any{"channel": "#a", "tone": "shouty"}, "tone"},
		{"unknown keys last", false, map[string]any{"zzz": 1, "chanel": "#a", "tone": "loud"}, "chanel,zzz"},
		{"too large", false, map[string]any{"channel": strings.Repeat("x", store.MaxWorkflowSettingsBytes)}, "settings"},
	} {
		_, err := s.SetWorkflow(ctx, "p1", "u1", wf, tc.enabled, tc.settings)
		if got := fieldKeys(err); got != tc.keys {
			t.Errorf("%s: fields %q, want %q (%v)", tc.name, got, tc.keys, err)
		}
	}
	var se *store.SettingsError
	_, err := s.SetWorkflow(ctx, "p1", "u1", wf, true, map[string]any{"tone": "shouty", "channel": "#a"})
	if !errors.As(err, &se) || se.Fields[0].Message != "Tone must be one of: calm, loud" ||
		err.Error() != `settings of workflow "post-leads": tone: Tone must be one of: calm, loud` {
		t.Errorf("enum error: %v", err)
	}
	if _, err := s.GetWorkflow(ctx, "p1", "u1", wf.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused choice was written: %v", err)
	}
	// Disabled, a required setting may stay empty: the user fills it in later.
	if _, err := s.SetWorkflow(ctx, "p1", "u1", wf, false, map[string]any{"tone": "loud"}); err != nil {
		t.Errorf("disabled without its required setting: %v", err)
	}
}

// testWorkflowSettingsKept: enabling or disabling without settings keeps
// the saved ones; given settings replace them; a saved value the file no
// longer accepts gives way to the default; a choice outlives the user's
// connections.
func testWorkflowSettingsKept(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := t.Context()
	wf := testWorkflow("post-leads")
	conn := create(t, s, newConnection("p1", "u1", "slack"))
	if _, err := s.SetWorkflow(ctx, "p1", "u1", wf, true, map[string]any{"channel": "#leads", "tone": "loud"}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.SetWorkflow(ctx, "p1", "u1", wf, false, nil); err != nil || c.Enabled || c.Settings["channel"] != "#leads" {
		t.Fatalf("disable keeping settings: %+v %v", c, err)
	}
	if c, err := s.SetWorkflow(ctx, "p1", "u1", wf, true, nil); err != nil || !c.Enabled || c.Settings["tone"] != "loud" {
		t.Fatalf("enable keeping settings: %+v %v", c, err)
	}
	if c, err := s.SetWorkflow(ctx, "p1", "u1", wf, true, map[string]any{"channel": "#other"}); err != nil ||
		!reflect.DeepEqual(c.Settings, map[string]any{"channel": "#other"}) {
		t.Fatalf("replacing settings: %+v %v", c, err)
	}
	if err := s.Delete(ctx, "p1", "u1", conn.ID); err != nil {
		t.Fatal(err)
	}
	if enabled, settings, err := s.UserWorkflow(ctx, "p1", "u1", wf); err != nil || !enabled || settings["channel"] != "#other" {
		t.Errorf("after deleting the last connection: %v %v %v, want the choice kept", enabled, settings, err)
	}
	// The file changed: tone's enum lost "loud"; channel became a number.
	if _, err := s.SetWorkflow(ctx, "p1", "u1", wf, true, map[string]any{"channel": "#x", "tone": "loud"}); err != nil {
		t.Fatal(err)
	}
	changed := testWorkflow("post-leads")
	changed.Settings[1].Enum = []string{"calm", "quiet"}
	if enabled, settings, err := s.UserWorkflow(ctx, "p1", "u1", changed); err != nil || !enabled || settings["tone"] != "calm" || settings["channel"] != "#x" {
		t.Errorf("after the enum changed: %v %v %v, want tone back to its default", enabled, settings, err)
	}
	changed.Settings[0].Type = "number"
	if enabled, _, err := s.UserWorkflow(ctx, "p1", "u1", changed); err != nil || enabled {
		t.Errorf("a required setting without a usable value: enabled %v (%v), want disabled", enabled, err)
	}
	if c, err := s.SetWorkflow(ctx, "p1", "u1", changed, false, nil); err != nil || c.Settings["tone"] != nil || c.Settings["channel"] != nil {
		t.Errorf("saving again drops what the file no longer accepts: %+v %v", c, err)
	}
}

// testWorkflowConcurrentSet: concurrent saves of one choice all succeed
// and one of them wins whole (no mix of two users' saves).
func testWorkflowConcurrentSet(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := t.Context()
	wf := testWorkflow("post-leads")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := "#c" + strings.Repeat("x", i)
			if _, err := s.SetWorkflow(ctx, "p1", "u1", wf, i%2 == 0, map[string]any{"channel": ch, "limit": float64(i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	c, err := s.GetWorkflow(ctx, "p1", "u1", wf.ID)
	if err != nil {
		t.Fatal(err)
	}
	i := int(c.Settings["limit"].(float64))
	if c.Settings["channel"] != "#c"+strings.Repeat("x", i) || c.Enabled != (i%2 == 0) {
		t.Errorf("a mixed row: %+v", c)
	}
}

// testWorkflowSetAllOrNone: SetWorkflows writes every choice or, when one
// is refused, none (the first, valid one included).
func testWorkflowSetAllOrNone(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := t.Context()
	a, b := testWorkflow("a-first"), testWorkflow("b-second")
	if _, err := s.SetWorkflow(ctx, "p1", "u1", a, false, map[string]any{"channel": "#before"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.SetWorkflows(ctx, "p1", "u1", []store.WorkflowChange{
		{Workflow: a, Enabled: true, Settings: map[string]any{"channel": "#after"}},
		{Workflow: b, Enabled: true, Settings: map[string]any{"channel": "#b", "tone": "shouty"}},
	})
	var se *store.SettingsError
	if !errors.As(err, &se) || se.WorkflowID != "b-second" || fieldKeys(err) != "tone" {
		t.Fatalf("SetWorkflows with an invalid second choice: %v, want b-second's tone refused", err)
	}
	if c, err := s.GetWorkflow(ctx, "p1", "u1", a.ID); err != nil || c.Enabled || c.Settings["channel"] != "#before" {
		t.Errorf("the valid first choice was written: %+v %v", c, err)
	}
	if _, err := s.GetWorkflow(ctx, "p1", "u1", b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused choice was written: %v", err)
	}
	// Valid, both are written, and come back in the order given.
	got, err := s.SetWorkflows(ctx, "p1", "u1", []store.WorkflowChange{
		{Workflow: b, Enabled: true, Settings: map[string]any{"channel": "#b"}},
		{Workflow: a, Enabled: true},
	})
	if err != nil || len(got) != 2 || got[0].WorkflowID != "b-second" || got[1].WorkflowID != "a-first" ||
		!got[1].Enabled || got[1].Settings["channel"] != "#before" {
		t.Fatalf("SetWorkflows: %+v %v", got, err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if c, err := s.GetWorkflow(ctx, "p1", "u1", id); err != nil || !c.Enabled {
			t.Errorf("%s after SetWorkflows: %+v %v", id, c, err)
		}
	}
}
