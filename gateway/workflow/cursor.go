package workflow

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
)

// A cursor names one step execution in a run's tree of steps: an index in
// the workflow's steps, then, to go into a condition or a loop, the branch
// (0 then, 1 else) or the loop's iteration and an index in that list, and
// so on: [2] is the third step, [2, 4, 0] the first step of the fifth
// iteration of the loop that is the third step.
//
// A step execution's path (its row in the store) is its id, prefixed by
// "<loop id>/<iteration>/" for each loop around it: ids are unique in the
// tree, so only loops need telling apart.

// frame is a loop around a step execution.
type frame struct {
	loop  *manifest.Step
	index int
	item  any
}

// position is a resolved cursor.
type position struct {
	step   *manifest.Step
	path   string
	prefix string  // path of the list the step is in
	frames []frame // loops around, outermost first
}

// resolve walks c in the workflow, reading loops' lists from rows.
func resolve(wf *manifest.Workflow, rows map[string]*store.WorkflowStep, c []int) (position, error) {
	var pos position
	list := wf.Steps
	for i := 0; ; i += 2 {
		if i >= len(c) || c[i] < 0 || c[i] >= len(list) {
			return pos, fmt.Errorf("cursor %v does not name a step of workflow %s (the file changed?)", c, wf.ID)
		}
		s := list[c[i]]
		if i == len(c)-1 {
			pos.step, pos.path = s, pos.prefix+s.ID
			return pos, nil
		}
		sel := c[i+1]
		switch s.Kind {
		case manifest.StepCondition:
			if sel == 0 {
				list = s.Then
			} else {
				list = s.Else
			}
		case manifest.StepLoop:
			items, err := loopList(rows[pos.prefix+s.ID])
			if err != nil || sel < 0 || sel >= len(items) {
				return pos, fmt.Errorf("cursor %v: loop %s has no iteration %d", c, s.ID, sel)
			}
			pos.frames = append(pos.frames, frame{loop: s, index: sel, item: items[sel]})
			pos.prefix += s.ID + "/" + strconv.Itoa(sel) + "/"
			list = s.Do
		default:
			return pos, fmt.Errorf("cursor %v: step %s has no inner steps", c, s.ID)
		}
	}
}

// loopOutput is a loop's row output while it iterates.
type loopOutput struct {
	List []any `json:"list"`
}

func loopList(row *store.WorkflowStep) ([]any, error) {
	if row == nil {
		return nil, fmt.Errorf("loop not started")
	}
	var out loopOutput
	if err := json.Unmarshal(row.Output, &out); err != nil {
		return nil, err
	}
	return out.List, nil
}

// listAt returns the list of steps the last index of c is in.
func listAt(wf *manifest.Workflow, c []int) []*manifest.Step {
	list := wf.Steps
	for i := 0; i+1 < len(c); i += 2 {
		s := list[c[i]]
		switch {
		case s.Kind == manifest.StepCondition && c[i+1] == 0:
			list = s.Then
		case s.Kind == manifest.StepCondition:
			list = s.Else
		default:
			list = s.Do
		}
	}
	return list
}

// pathOf is the path of the step at c (c resolved already).
func pathOf(wf *manifest.Workflow, c []int) string {
	var b strings.Builder
	list := wf.Steps
	for i := 0; ; i += 2 {
		s := list[c[i]]
		if i == len(c)-1 {
			b.WriteString(s.ID)
			return b.String()
		}
		if s.Kind == manifest.StepLoop {
			b.WriteString(s.ID + "/" + strconv.Itoa(c[i+1]) + "/")
		}
		list = listAt(wf, c[:i+3])
	}
}

func clone(c []int) []int { return append([]int(nil), c...) }
