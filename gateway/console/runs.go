package console

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/workflow"
	"github.com/plugboardhq/plugboard/gateway/workflow/diagram"
	"github.com/plugboardhq/plugboard/manifest"
)

// stepStates is what the diagram shows of a run: each step's state. A
// step executed several times (in a loop) is failed if one execution
// failed, running if one is running, else succeeded. A step the run did
// not execute is skipped when it sits in a condition's untaken branch or
// the run is over, pending otherwise.
func stepStates(wf *manifest.Workflow, run *workflow.RunDetail) map[string]diagram.State {
	states := map[string]diagram.State{}
	results := map[string]bool{} // a condition's result, by step id
	for _, s := range run.Steps {
		st := diagram.Succeeded
		switch s.Status {
		case store.StepRunning, store.StepRetrying:
			st = diagram.Running
		case store.StepFailed:
			st = diagram.Failed
		}
		switch cur := states[s.StepID]; {
		case cur == diagram.Failed, cur == diagram.Running && st == diagram.Succeeded:
		default:
			states[s.StepID] = st
		}
		if s.Kind == string(manifest.StepCondition) {
			var out struct{ Result bool }
			if json.Unmarshal(s.Output, &out) == nil {
				results[s.StepID] = out.Result
			}
		}
	}
	var mark func(steps []*manifest.Step, untaken bool)
	mark = func(steps []*manifest.Step, untaken bool) {
		for _, s := range steps {
			if _, ran := states[s.ID]; !ran {
				if untaken || run.Status.Done() {
					states[s.ID] = diagram.Skipped
				} else {
					states[s.ID] = diagram.Pending
				}
			}
			r, decided := results[s.ID]
			mark(s.Then, untaken || (decided && !r))
			mark(s.Else, untaken || (decided && r))
			mark(s.Do, untaken)
		}
	}
	mark(wf.Steps, false)
	return states
}

// lastRunDiagram draws wf with its last run's states (none when it never
// ran); it returns the run too.
func (c *Console) lastRunDiagram(r *http.Request, wf *manifest.Workflow) (template.HTML, *workflow.RunDetail) {
	page, err := c.workflows.Runs(r.Context(), store.RunFilter{WorkflowID: wf.ID, Limit: 1})
	if err != nil || len(page.Runs) == 0 {
		return template.HTML(diagram.Inline(wf, nil)), nil
	}
	run, err := c.workflows.Run(r.Context(), page.Runs[0].ID)
	if err != nil {
		return template.HTML(diagram.Inline(wf, nil)), nil
	}
	return template.HTML(diagram.Inline(wf, stepStates(wf, run))), run // diagram escapes every text
}

type runsView struct {
	Workflow, User, Project, Status string
	Statuses                        []store.RunStatus
	Runs                            []*store.WorkflowRun
	Next                            string
	Filtered                        bool
}

// workflowRuns is GET /admin/workflow-runs: runs, newest first, filtered
// by workflow, project, user and status, as the admin API lists them.
func (c *Console) workflowRuns(w http.ResponseWriter, r *http.Request, s session) {
	q := r.URL.Query()
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	v := runsView{Workflow: get("workflow"), User: get("user"), Project: get("project"), Status: get("status"), Statuses: store.RunStatuses}
	v.Filtered = v.Workflow != "" || v.User != "" || v.Project != "" || v.Status != "" || q.Get("cursor") != ""
	vw := view{Title: "Workflow runs", Nav: "workflows", CSRF: s.CSRF()}
	f := store.RunFilter{WorkflowID: v.Workflow, UserID: v.User, ProjectID: v.Project, Status: store.RunStatus(v.Status), Cursor: q.Get("cursor")}
	status := http.StatusOK
	if f.Status != "" && !f.Status.Valid() {
		status, vw.Problem = http.StatusBadRequest, "Filter status: must be queued, running, succeeded or failed."
	} else if page, err := c.workflows.Runs(r.Context(), f); errors.Is(err, store.ErrBadCursor) {
		status, vw.Problem = http.StatusBadRequest, "This page's cursor is not one the listing handed out; start again from the first page."
	} else if err != nil {
		c.log.Error("admin console: listing workflow runs failed", "error", err.Error())
		status, vw.Problem = http.StatusServiceUnavailable, "Listing workflow runs failed; see the gateway's log."
	} else {
		v.Runs = page.Runs
		if page.NextCursor != "" {
			next := url.Values{}
			for k, val := range map[string]string{"workflow": v.Workflow, "user": v.User, "project": v.Project, "status": v.Status} {
				if val != "" {
					next.Set(k, val)
				}
			}
			next.Set("cursor", page.NextCursor)
			v.Next = "/admin/workflow-runs?" + next.Encode()
		}
	}
	vw.Data = v
	c.render(w, status, "runs.html", vw)
}

type stepRow struct {
	*store.WorkflowStep
	Duration string
	Output   string // indented JSON, cut at maxOutputShown
}

type runView struct {
	Run      *store.WorkflowRun
	Title    string // the workflow's, when it is still served
	Duration string
	Trigger  string
	Settings string
	Response string
	Steps    []stepRow
	Diagram  template.HTML
}

// maxOutputShown bounds a step output on the run page.
const maxOutputShown = 4 << 10

// workflowRun is GET /admin/workflow-runs/{id}: one run step by step,
// drawn on its workflow's diagram.
func (c *Console) workflowRun(w http.ResponseWriter, r *http.Request, s session) {
	run, err := c.workflows.Run(r.Context(), r.PathValue("id"))
	vw := view{Title: "Workflow run", Nav: "workflows", CSRF: s.CSRF(), ExtraCSS: template.CSS(diagram.Style)}
	switch {
	case errors.Is(err, store.ErrNotFound):
		vw.Problem = "No workflow run has that id."
		c.render(w, http.StatusNotFound, "message.html", vw)
		return
	case err != nil:
		c.log.Error("admin console: reading a workflow run failed", "error", err.Error())
		vw.Problem = "Reading the workflow run failed; see the gateway's log."
		c.render(w, http.StatusServiceUnavailable, "message.html", vw)
		return
	}
	v := runView{Run: run.WorkflowRun, Duration: duration(run.StartedAt, run.FinishedAt), Trigger: pretty(run.Trigger, maxOutputShown),
		Settings: pretty(run.Settings, maxOutputShown), Response: pretty(run.Response, maxOutputShown)}
	for _, st := range run.Steps {
		v.Steps = append(v.Steps, stepRow{WorkflowStep: st, Duration: duration(st.StartedAt, st.FinishedAt), Output: pretty(st.Output, maxOutputShown)})
	}
	if wf, ok := c.reloader.Catalog().Workflow(run.WorkflowID); ok {
		v.Title = wf.Title
		if wf.Hash == run.WorkflowHash {
			v.Diagram = template.HTML(diagram.Inline(wf, stepStates(wf, run))) // diagram escapes every text
		}
	}
	vw.Data = v
	c.render(w, http.StatusOK, "run.html", vw)
}

func duration(from, to time.Time) string {
	if from.IsZero() || to.IsZero() {
		return "—"
	}
	return to.Sub(from).Round(time.Millisecond).String()
}

// pretty indents JSON for reading, cut at max bytes.
func pretty(raw json.RawMessage, max int) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var v any
	out := string(raw)
	if json.Unmarshal(raw, &v) == nil {
		if b, err := json.MarshalIndent(v, "", "  "); err == nil {
			out = string(b)
		}
	}
	if len(out) > max {
		out = out[:max] + "\n… (" + strconv.Itoa(len(out)-max) + " more bytes)"
	}
	return out
}
