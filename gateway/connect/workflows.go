package connect

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/gateway/userworkflows"
	"github.com/plugboardhq/plugboard/manifest"
)

// The Connect Portal's workflows page lists a connected integration's
// workflows, each a form (an enable switch and the workflow's settings)
// posting with the session's CSRF token. It is reached from the success
// page after connecting, on a session that may only manage workflows
// (the connect session has done its work and is replaced), or from a
// connect link of a user who is already connected.

func workflowsPath(integrationID string) string {
	return "/connect/portal/" + url.PathEscape(integrationID) + "/workflows"
}

// hasWorkflows reports whether the integration has workflows to choose.
func (f *Flows) hasWorkflows(integrationID string) bool {
	return f.Workflows != nil && len(f.Workflows.ForIntegration(integrationID)) > 0
}

// manageSession replaces the connect session, after a connect in a tab,
// by one that may only manage the integration's workflows. It returns the
// workflows page's path, or "" when there is nothing to manage.
func (f *Flows) manageSession(w http.ResponseWriter, r *http.Request, in *manifest.Integration, conn *connection.Connection, fc flowContext) string {
	if fc.Session != "" || !f.hasWorkflows(in.ID) {
		return ""
	}
	if cur, err := f.cookies().session(r); err == nil && (cur.ProjectID != conn.ProjectID || cur.UserID != conn.UserID || cur.IntegrationID != in.ID) {
		return "" // a session opened since for another account or integration stays
	}
	sess := portalSession{ProjectID: conn.ProjectID, UserID: conn.UserID, IntegrationID: in.ID, Account: fc.Account, ReturnURL: fc.ReturnURL,
		Manage: true, CSRF: randomToken(24), Expires: time.Now().Add(sessionLifetime)}
	if err := f.cookies().setSession(w, sess); err != nil {
		return ""
	}
	return workflowsPath(in.ID)
}

// showWorkflows renders the workflows page (GET …/workflows[?saved=<id>]).
func (f *Flows) showWorkflows(w http.ResponseWriter, r *http.Request) {
	sess, in, ok := f.workflowSession(w, r)
	if !ok {
		return
	}
	states, err := f.Workflows.States(r.Context(), sess.ProjectID, sess.UserID, func(id string) bool { return id == in.ID })
	if err != nil {
		f.renderResult(w, result{status: http.StatusServiceUnavailable, view: integration.PortalView(in), flow: ptr(sess.flow()),
			title: "Workflows are not available", message: "They could not be read. Reload the page to try again."})
		return
	}
	saved := r.URL.Query().Get("saved")
	views := make([]portal.Workflow, len(states))
	for i, st := range states {
		views[i] = workflowView(in, st, st.Enabled, st.Saved)
		views[i].Saved = st.Workflow.ID == saved
	}
	f.renderWorkflows(w, http.StatusOK, in, sess, views)
}

// saveWorkflow handles one workflow's form (POST …/workflows/{wid}):
// enabled is the switch, s.<key> the settings. A refused save shows the
// page again with what the user typed and each setting's problem.
func (f *Flows) saveWorkflow(w http.ResponseWriter, r *http.Request) {
	sess, in, ok := f.workflowSession(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !constantEqual(r.PostForm.Get("csrf"), sess.CSRF) {
		f.renderResult(w, result{status: http.StatusForbidden, view: integration.PortalView(in),
			title: "This form has expired", message: "Reload the page and try again."})
		return
	}
	wf, ok := f.Workflows.Lookup(r.PathValue("wid"))
	if !ok || wf.Integration != in.ID {
		f.renderResult(w, result{status: http.StatusNotFound, view: integration.PortalView(in), flow: ptr(sess.flow()),
			title: "Workflow not found", message: "This workflow is no longer available. Reload the page."})
		return
	}
	enabled := r.PostForm.Get("enabled") == "on"
	settings, typed, errs := formSettings(wf, r.PostForm)
	var fail *apierror.Error
	if len(errs) == 0 {
		_, fail = f.Workflows.Save(r.Context(), sess.ProjectID, sess.UserID, wf, enabled, settings)
		if fail == nil {
			http.Redirect(w, r, workflowsPath(in.ID)+"?saved="+url.QueryEscape(wf.ID)+"#wf-"+url.PathEscape(wf.ID), http.StatusSeeOther)
			return
		}
		errs = fail.Fields
	} else {
		fail = apierror.New(http.StatusBadRequest, apierror.InvalidInput, "")
	}
	// Show the page again: this workflow as typed, the others as stored.
	states, err := f.Workflows.States(r.Context(), sess.ProjectID, sess.UserID, func(id string) bool { return id == in.ID })
	if err != nil {
		// Without the stored choices the page would list no workflow at
		// all: say that nothing was saved and why, and that the page
		// could not be shown.
		f.renderResult(w, result{status: http.StatusServiceUnavailable, view: integration.PortalView(in), flow: ptr(sess.flow()),
			title: wf.Title + " was not saved", message: refusal(wf, fail, errs) + " The workflows could not be read either. Reload the page to try again."})
		return
	}
	views := []portal.Workflow{}
	for _, st := range states {
		if st.Workflow.ID != wf.ID {
			views = append(views, workflowView(in, st, st.Enabled, st.Saved))
			continue
		}
		v := workflowView(in, st, enabled, typed)
		v.Notice = fail.Message
		if fail.Code == apierror.InvalidInput {
			v.Notice = "Check the highlighted settings."
			if enabled {
				v.Notice = "Check the highlighted settings: the workflow cannot be enabled with these."
			}
		}
		for i := range v.Fields {
			for _, e := range errs {
				if e.Field == v.Fields[i].Key {
					v.Fields[i].Error = e.Message
				}
			}
		}
		views = append(views, v)
	}
	f.renderWorkflows(w, fail.Status, in, sess, views)
}

// refusal says in a sentence why a workflow's form was refused: each
// setting's problem by its label, or the service's message.
func refusal(wf *manifest.Workflow, fail *apierror.Error, errs []apierror.FieldError) string {
	if len(errs) == 0 {
		if fail.Message != "" {
			return fail.Message
		}
		return "It was refused."
	}
	var probs []string
	for _, e := range errs {
		label := e.Field
		for _, st := range wf.Settings {
			if st.Key == e.Field {
				label = st.Label
			}
		}
		if strings.HasPrefix(e.Message, label) {
			label = "" // the service's messages name the setting
		} else {
			label += ": "
		}
		probs = append(probs, label+e.Message)
	}
	return "Check its settings (" + strings.Join(probs, "; ") + ")."
}

// workflowSession is portalSessionFor for the workflows pages: any
// session of the integration, for a user who has it connected.
func (f *Flows) workflowSession(w http.ResponseWriter, r *http.Request) (portalSession, *manifest.Integration, bool) {
	sess, in, ok := f.portalSessionFor(w, r)
	if !ok {
		return sess, in, false
	}
	if !f.hasWorkflows(in.ID) {
		f.renderResult(w, result{status: http.StatusNotFound, view: integration.PortalView(in), flow: ptr(sess.flow()),
			title: "No workflows", message: in.Name + " has no workflows to choose. Go back to the app."})
		return sess, in, false
	}
	n, err := f.Connections.Count(r.Context(), sess.ProjectID, sess.UserID, in.ID)
	if err != nil || n == 0 {
		f.renderResult(w, result{status: http.StatusConflict, view: integration.PortalView(in), flow: ptr(sess.flow()),
			title: in.Name + " is not connected", message: "Connect " + in.Name + " from the app first, then choose its workflows."})
		return sess, in, false
	}
	return sess, in, true
}

func (f *Flows) renderWorkflows(w http.ResponseWriter, status int, in *manifest.Integration, sess portalSession, views []portal.Workflow) {
	portal.Render(w, status, portal.Page{Integration: integration.PortalView(in), App: f.appView(sess.ProjectID), Account: accountOf(sess),
		WorkflowPage: true, Title: in.Name + " workflows", CSRF: sess.CSRF, Workflows: views, ReturnURL: sess.ReturnURL}, f.portalOptions())
}

// workflowView is one workflow's form: values are what the user saved or
// typed (values, without defaults), else the defaults.
func workflowView(in *manifest.Integration, st userworkflows.State, enabled bool, values map[string]any) portal.Workflow {
	wf := st.Workflow
	v := portal.Workflow{ID: wf.ID, Title: wf.Title, Description: wf.Description, Enabled: enabled,
		Action: workflowsPath(in.ID) + "/" + url.PathEscape(wf.ID)}
	for _, s := range wf.Settings {
		fd := portal.Field{Type: s.Type, Key: s.Key, Label: s.Label, Help: s.Help, Required: s.Required, Enum: s.Enum}
		val, ok := values[s.Key]
		if !ok && values == nil {
			val, ok = st.Settings[s.Key] // never saved: the defaults
		}
		if ok {
			fd.Value = formValue(val)
		}
		v.Fields = append(v.Fields, fd)
	}
	return v
}

func formValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return ""
}

// formSettings reads a workflow's settings from its form (s.<key>):
// checkboxes are true when sent, numbers are parsed, empty fields are no
// value. typed keeps what was typed, to show it again.
func formSettings(wf *manifest.Workflow, form url.Values) (settings, typed map[string]any, errs []apierror.FieldError) {
	settings, typed = map[string]any{}, map[string]any{}
	for _, s := range wf.Settings {
		raw := strings.TrimSpace(form.Get("s." + s.Key))
		switch s.Type {
		case "boolean":
			settings[s.Key] = raw == "true"
			typed[s.Key] = raw == "true"
		case "number":
			typed[s.Key] = raw
			if raw == "" {
				continue
			}
			n, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				errs = append(errs, apierror.FieldError{Field: s.Key, Message: "must be a number"})
				continue
			}
			settings[s.Key] = n
		default:
			typed[s.Key] = raw
			if raw != "" {
				settings[s.Key] = raw
			}
		}
	}
	return settings, typed, errs
}

func ptr[T any](v T) *T { return &v }
