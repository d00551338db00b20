package console

import (
	"html/template"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/workflow"
	"github.com/plugboardhq/plugboard/gateway/workflow/diagram"
	"github.com/plugboardhq/plugboard/manifest"
)

// workflowRow is one workflow file on the workflows page: what it is and
// its diagram (the served version), or why nothing is served from it.
type workflowRow struct {
	File             string
	ID               string
	Title            string
	Description      string
	Integration      string
	Trigger          string
	EnabledByDefault bool
	Status           manifest.Status
	LoadedAt         string
	Problems         []problemRow
	Diagram          template.HTML      // the served version, drawn (diagram escapes every text)
	LastRun          *store.WorkflowRun // nil: never ran, or no engine
}

type workflowsView struct {
	Dir       string
	Revision  string
	Workflows []workflowRow
	HasRuns   bool
}

// workflows is GET /admin/workflows: every workflow file, its status and
// problems, and each served workflow drawn.
// With the engine, each diagram shows the workflow's last run.
func (c *Console) workflowsPage(w http.ResponseWriter, r *http.Request, s session) {
	cat := c.reloader.Catalog()
	v := workflowsView{Dir: c.reloader.Dir, Revision: cat.Revision(), HasRuns: c.workflows != nil}
	for _, e := range cat.WorkflowEntries() {
		row := workflowRow{File: c.relative(e.Path), Status: e.Status, LoadedAt: when(e.LoadedAt)}
		for _, p := range e.Problems {
			p.File = c.relative(p.File)
			row.Problems = append(row.Problems, problemRow{Text: p.String(), Warning: p.Severity == manifest.Warning})
		}
		if wf := e.Workflow; wf != nil {
			row.ID, row.Title, row.Description, row.Integration = wf.ID, wf.Title, wf.Description, wf.Integration
			row.Trigger, row.EnabledByDefault = triggerSummary(wf.Trigger), wf.EnabledByDefault
			if c.workflows != nil {
				var run *workflow.RunDetail
				if row.Diagram, run = c.lastRunDiagram(r, wf); run != nil {
					row.LastRun = run.WorkflowRun
				}
			} else {
				row.Diagram = template.HTML(diagram.Inline(wf, nil)) // diagram escapes every text it draws (its tests hold it to that)
			}
		}
		v.Workflows = append(v.Workflows, row)
	}
	c.render(w, http.StatusOK, "workflows.html", view{Title: "Workflows", Nav: "workflows", CSRF: s.CSRF(), Data: v, ExtraCSS: template.CSS(diagram.Style)})
}

func triggerSummary(t manifest.Trigger) string {
	switch t.Type {
	case manifest.TriggerEvent:
		return "event " + t.Event
	case manifest.TriggerSchedule:
		s := "schedule " + t.Cron
		if t.Timezone != nil {
			s += " (" + t.Timezone.String() + ")"
		}
		return s
	case manifest.TriggerLifecycle:
		s := "lifecycle"
		for i, l := range t.Lifecycle {
			if i == 0 {
				s += " "
			} else {
				s += ", "
			}
			s += l
		}
		return s
	}
	return string(t.Type)
}
