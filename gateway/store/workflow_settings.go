package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/manifest"
)

// WorkflowSettings keeps end users' choices about workflows: whether a
// workflow is enabled for them, and the settings they filled in (the
// workflow file's settings). A choice belongs to (project, user, workflow)
// and to no connection: a user who deletes their last connection of the
// integration keeps it, and finds it again when they reconnect. Settings
// are not secrets (a workflow declares no secret setting) and are stored
// as JSON in clear.
type WorkflowSettings interface {
	// SetWorkflow records the user's choice for wf: enabled or not, and
	// settings. nil settings keeps what the user saved before (none: the
	// defaults); a non-nil map replaces it. Settings are checked against
	// wf's declarations first (CheckWorkflowSettings): a bad one is a
	// *SettingsError and nothing is written.
	SetWorkflow(ctx context.Context, projectID, userID string, wf *manifest.Workflow, enabled bool, settings map[string]any) (WorkflowChoice, error)
	// SetWorkflows records several of the user's choices in one
	// transaction, as SetWorkflow each: all are written or, when one is a
	// *SettingsError (or the store fails), none. The choices come back in
	// the order given.
	SetWorkflows(ctx context.Context, projectID, userID string, changes []WorkflowChange) ([]WorkflowChoice, error)
	// GetWorkflow returns the user's recorded choice for a workflow, as
	// stored (no defaults filled in); ErrNotFound if they never chose.
	GetWorkflow(ctx context.Context, projectID, userID, workflowID string) (WorkflowChoice, error)
	// ListWorkflows returns every choice the user recorded, by workflow id.
	ListWorkflows(ctx context.Context, projectID, userID string) ([]WorkflowChoice, error)
	// UserWorkflow is what the engine asks before a run: whether the user
	// has wf enabled (wf.EnabledByDefault when they never chose) and their
	// settings with wf's defaults filled in (EffectiveWorkflow).
	UserWorkflow(ctx context.Context, projectID, userID string, wf *manifest.Workflow) (enabled bool, settings map[string]any, err error)
}

// WorkflowChoice is one user's recorded choice about one workflow.
type WorkflowChoice struct {
	WorkflowID string
	Enabled    bool
	Settings   map[string]any // as saved: only what the user filled in
	UpdatedAt  time.Time
}

// WorkflowChange is one choice SetWorkflows records: as SetWorkflow's
// arguments (nil Settings keeps the saved ones).
type WorkflowChange struct {
	Workflow *manifest.Workflow
	Enabled  bool
	Settings map[string]any
}

// MaxWorkflowSettingsBytes bounds one user's settings of one workflow, as
// JSON: settings are a channel name or a toggle, not documents.
const MaxWorkflowSettingsBytes = 16 << 10

// SettingError is a problem with one setting.
type SettingError struct {
	Key     string // the setting's key
	Message string // what is wrong and what is expected, for the user
}

// SettingsError says which of the settings given for a workflow are wrong.
type SettingsError struct {
	WorkflowID string
	Fields     []SettingError // in the workflow's order, unknown keys last
}

func (e *SettingsError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Key + ": " + f.Message
	}
	return fmt.Sprintf("settings of workflow %q: %s", e.WorkflowID, strings.Join(parts, "; "))
}

// CheckWorkflowSettings checks settings against wf's declarations
// (manifest.Workflow.CheckSettings: declared keys, types, enums, required
// settings), except that a disabled workflow may be saved without its
// required settings: the user fills them in before enabling it. It
// returns the settings to store (empty values dropped, numbers as
// float64), or a *SettingsError with the problems in the workflow's
// order, unknown keys last.
func CheckWorkflowSettings(wf *manifest.Workflow, settings map[string]any, enabled bool) (map[string]any, error) {
	values := map[string]any{}
	for k, v := range settings {
		if v == nil || v == "" {
			continue // an empty field is no value
		}
		values[k] = number(v)
	}
	problems := wf.CheckSettings(values)
	var errs []SettingError
	for _, s := range wf.Settings {
		msg, bad := problems[s.Key]
		if !bad {
			continue
		}
		delete(problems, s.Key)
		if _, given := values[s.Key]; !given && !enabled {
			continue // required, and the workflow stays disabled
		}
		errs = append(errs, SettingError{Key: s.Key, Message: msg})
	}
	unknown := make([]string, 0, len(problems))
	for k := range problems {
		unknown = append(unknown, k)
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		errs = append(errs, SettingError{Key: k, Message: problems[k]})
	}
	if len(errs) > 0 {
		return nil, &SettingsError{WorkflowID: wf.ID, Fields: errs}
	}
	if b, err := json.Marshal(values); err != nil || len(b) > MaxWorkflowSettingsBytes {
		return nil, &SettingsError{WorkflowID: wf.ID, Fields: []SettingError{{Key: "settings",
			Message: fmt.Sprintf("larger than %d bytes of JSON", MaxWorkflowSettingsBytes)}}}
	}
	return values, nil
}

// number turns Go's integer types and json.Number into float64, as JSON
// decodes numbers; other values are returned as they are.
func number(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case json.Number:
		if f, err := n.Float64(); err == nil {
			return f
		}
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Sprint(n) // not a number a setting can hold: refused as such
		}
	}
	return v
}

// fitting returns the saved values that wf still accepts (the file may
// have changed since they were saved).
func fitting(wf *manifest.Workflow, saved map[string]any) map[string]any {
	problems := wf.CheckSettings(saved)
	out := map[string]any{}
	for k, v := range saved {
		if _, bad := problems[k]; !bad && v != nil && v != "" {
			out[k] = v
		}
	}
	return out
}

// EffectiveWorkflow is what a run of wf sees of a user's choice (nil:
// never chose): enabled is the choice, or wf.EnabledByDefault; settings
// are the saved values that still fit wf's declarations, then wf's
// defaults (manifest.Workflow.FillSettings). A workflow whose required
// setting has no value is reported disabled: a run could not be given it.
func EffectiveWorkflow(wf *manifest.Workflow, choice *WorkflowChoice) (bool, map[string]any) {
	enabled := wf.EnabledByDefault
	var saved map[string]any
	if choice != nil {
		enabled, saved = choice.Enabled, choice.Settings
	}
	settings := wf.FillSettings(fitting(wf, saved))
	for _, s := range wf.Settings {
		if _, ok := settings[s.Key]; s.Required && !ok {
			enabled = false
		}
	}
	return enabled, settings
}

// userWorkflow is UserWorkflow on any backend's GetWorkflow.
func userWorkflow(ctx context.Context, get func(ctx context.Context, projectID, userID, workflowID string) (WorkflowChoice, error),
	projectID, userID string, wf *manifest.Workflow) (bool, map[string]any, error) {
	c, err := get(ctx, projectID, userID, wf.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		enabled, settings := EffectiveWorkflow(wf, nil)
		return enabled, settings, nil
	case err != nil:
		return false, nil, err
	}
	enabled, settings := EffectiveWorkflow(wf, &c)
	return enabled, settings, nil
}

// mergeSettings is what SetWorkflow stores: the new settings when given,
// else the previous ones, checked for enabled.
func mergeSettings(wf *manifest.Workflow, previous, given map[string]any, enabled bool) (string, error) {
	settings := given
	if settings == nil {
		// Keep what was saved, minus what no longer fits the file: the
		// user cannot fix a value the form no longer shows.
		settings = fitting(wf, previous)
	}
	checked, err := CheckWorkflowSettings(wf, settings, enabled)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(checked)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func decodeSettings(workflowID, s string) (map[string]any, error) {
	out := map[string]any{}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("settings of workflow %q are not JSON: %w", workflowID, err)
	}
	return out, nil
}

func checkWorkflowIDs(projectID, userID string, changes []WorkflowChange) error {
	for _, c := range changes {
		if projectID == "" || userID == "" || c.Workflow == nil || c.Workflow.ID == "" {
			return errors.New("project, user and workflow are required")
		}
	}
	return nil
}

// workflowOrder is the order SetWorkflows writes changes in: by workflow
// id, so that two transactions lock the same rows in the same order.
func workflowOrder(changes []WorkflowChange) []int {
	order := make([]int, len(changes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(changes[a].Workflow.ID, changes[b].Workflow.ID) })
	return order
}

// workflowChoices decodes what SetWorkflows stored (stored[i] for
// changes[i]).
func workflowChoices(changes []WorkflowChange, stored []string, now time.Time) ([]WorkflowChoice, error) {
	out := make([]WorkflowChoice, len(changes))
	for i, c := range changes {
		decoded, err := decodeSettings(c.Workflow.ID, stored[i])
		if err != nil {
			return nil, err
		}
		out[i] = WorkflowChoice{WorkflowID: c.Workflow.ID, Enabled: c.Enabled, Settings: decoded, UpdatedAt: now}
	}
	return out, nil
}

// setWorkflowErr is SetWorkflows' error: a *SettingsError as it is, else
// the store's failure naming the workflows.
func setWorkflowErr(changes []WorkflowChange, err error) error {
	var se *SettingsError
	if errors.As(err, &se) {
		return se
	}
	ids := make([]string, len(changes))
	for i, c := range changes {
		ids[i] = c.Workflow.ID
	}
	return fmt.Errorf("store: set workflow %s: %w", strings.Join(ids, ", "), err)
}
