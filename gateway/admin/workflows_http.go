package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/workflow"
)

// Workflows is what the admin API needs of the workflow engine.
type Workflows interface {
	Workflows() []workflow.Info
	Runs(ctx context.Context, f store.RunFilter) (store.RunPage, error)
	Run(ctx context.Context, id string) (*workflow.RunDetail, error)
}

// listWorkflows: GET /admin/v1/workflows.
func (o *Ops) listWorkflows(w http.ResponseWriter, r *http.Request) {
	wfs := o.Workflows.Workflows()
	if wfs == nil {
		wfs = []workflow.Info{}
	}
	apierror.JSON(w, http.StatusOK, map[string]any{"workflows": wfs})
}

// listWorkflowRuns: GET /admin/v1/workflow-runs?project=&user=&workflow=&status=&cursor=&limit=.
func (o *Ops) listWorkflowRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.RunFilter{ProjectID: q.Get("project"), UserID: q.Get("user"), WorkflowID: q.Get("workflow"),
		Status: store.RunStatus(q.Get("status")), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxPageLimit {
			apierror.Write(w, badField("limit", "must be a number from 1 to "+strconv.Itoa(store.MaxPageLimit)))
			return
		}
		f.Limit = n
	}
	if f.Status != "" && !f.Status.Valid() {
		apierror.Write(w, badField("status", "must be queued, running, succeeded or failed"))
		return
	}
	page, err := o.Workflows.Runs(r.Context(), f)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		apierror.Write(w, badField("cursor", "is not one a page of this listing returned"))
		return
	case err != nil:
		o.log().Error("admin API: listing workflow runs failed", "error", err.Error())
		apierror.Write(w, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "listing workflow runs failed; see the gateway's log"))
		return
	}
	runs := page.Runs
	if runs == nil {
		runs = []*store.WorkflowRun{}
	}
	apierror.JSON(w, http.StatusOK, map[string]any{"runs": runs, "nextCursor": page.NextCursor})
}

// getWorkflowRun: GET /admin/v1/workflow-runs/{id}, step by step.
func (o *Ops) getWorkflowRun(w http.ResponseWriter, r *http.Request) {
	run, err := o.Workflows.Run(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.NotFound, "no workflow run "+apierror.Quote(r.PathValue("id"))))
	case err != nil:
		o.log().Error("admin API: reading a workflow run failed", "error", err.Error())
		apierror.Write(w, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "reading the workflow run failed; see the gateway's log"))
	default:
		apierror.JSON(w, http.StatusOK, run)
	}
}

func badField(field, msg string) *apierror.Error {
	e := apierror.New(http.StatusBadRequest, apierror.BadRequest, field+" "+msg)
	e.Fields = []apierror.FieldError{{Field: field, Message: msg}}
	return e
}
