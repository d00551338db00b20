package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// Walk calls f for every step of the workflow, depth first in file order:
// a condition before its then and else steps, a loop before its do steps.
func (wf *Workflow) Walk(f func(*Step)) { walkSteps(wf.Steps, f) }

// Step returns the step with the given id, wherever it is in the tree;
// nil when there is none.
func (wf *Workflow) Step(id string) *Step {
	var found *Step
	wf.Walk(func(s *Step) {
		if s.ID == id && found == nil {
			found = s
		}
	})
	return found
}

// FillSettings returns what expressions see as settings: the user's saved
// values of the declared settings, with the declared defaults for those
// not saved. Undeclared keys are dropped; an optional setting without a
// value or default is absent.
func (wf *Workflow) FillSettings(saved map[string]any) map[string]any {
	out := make(map[string]any, len(wf.Settings))
	for _, s := range wf.Settings {
		if v, ok := saved[s.Key]; ok && v != nil {
			out[s.Key] = v
		} else if s.Default != nil {
			out[s.Key] = s.Default
		}
	}
	return out
}

// CheckSettings checks values a user submits for the workflow's settings
// (JSON-decoded: strings, float64, bools) and returns a message per key
// that is wrong: an undeclared key, a value of the wrong type or not among
// the enum, a required setting missing (a default counts as a value). An
// empty string is no value. nil when all is well.
func (wf *Workflow) CheckSettings(values map[string]any) map[string]string {
	problems := map[string]string{}
	declared := map[string]bool{}
	for _, s := range wf.Settings {
		declared[s.Key] = true
		v, set := values[s.Key]
		if str, isStr := v.(string); v == nil || isStr && str == "" {
			set = false
		}
		if !set {
			if s.Required && s.Default == nil {
				problems[s.Key] = fmt.Sprintf("%s is required", s.Label)
			}
			continue
		}
		switch s.Type {
		case "string":
			str, ok := v.(string)
			switch {
			case !ok:
				problems[s.Key] = fmt.Sprintf("%s must be text", s.Label)
			case len(s.Enum) > 0 && !contains(s.Enum, str):
				problems[s.Key] = fmt.Sprintf("%s must be one of: %s", s.Label, strings.Join(s.Enum, ", "))
			}
		case "number":
			if _, ok := v.(float64); !ok {
				problems[s.Key] = fmt.Sprintf("%s must be a number", s.Label)
			}
		case "boolean":
			if _, ok := v.(bool); !ok {
				problems[s.Key] = fmt.Sprintf("%s must be true or false", s.Label)
			}
		}
	}
	var unknown []string
	for k := range values {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		problems[k] = fmt.Sprintf("%q is not a setting of this workflow", k)
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}
