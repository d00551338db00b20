package connect

import (
	"net/http"
	"time"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/manifest"
)

// portalSessionFor returns the browser's session for the integration, or
// renders why there is none.
func (f *Flows) portalSessionFor(w http.ResponseWriter, r *http.Request) (portalSession, *manifest.Integration, bool) {
	in, ok := f.Integrations.Lookup(r.PathValue("id"))
	if !ok {
		f.renderFailure(w, http.StatusNotFound, "Integration not found", "This integration is not available. Go back to the app.")
		return portalSession{}, nil, false
	}
	sess, err := f.cookies().session(r)
	if err != nil || sess.IntegrationID != in.ID {
		f.renderResult(w, result{status: http.StatusUnauthorized, view: integration.PortalView(in),
			title: "Your session has ended", message: "Go back to the app and open the connect page again."})
		return portalSession{}, nil, false
	}
	accesslog.Set(r.Context(), sess.ProjectID, sess.UserID, in.ID)
	return sess, in, true
}

// showPortal renders the connect form.
func (f *Flows) showPortal(w http.ResponseWriter, r *http.Request) {
	sess, in, ok := f.portalSessionFor(w, r)
	if !ok {
		return
	}
	if sess.Manage {
		// Connected already: this session only chooses workflows.
		http.Redirect(w, r, workflowsPath(in.ID), http.StatusSeeOther)
		return
	}
	f.renderForm(w, http.StatusOK, in, sess, integration.FormFields(in), "", nil)
}

// submitPortal handles the connect form: API keys and client credentials
// are checked, tested and stored; OAuth inputs start the authorization flow.
func (f *Flows) submitPortal(w http.ResponseWriter, r *http.Request) {
	sess, in, ok := f.portalSessionFor(w, r)
	if !ok || !f.allowUser(w, r, sess.ProjectID, sess.UserID) {
		return
	}
	if sess.Manage {
		f.renderResult(w, result{status: http.StatusForbidden, view: integration.PortalView(in), flow: ptr(sess.flow()),
			title: in.Name + " is connected", message: "To connect another account, open the connect page from the app again."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !constantEqual(r.PostForm.Get("csrf"), sess.CSRF) {
		f.renderResult(w, result{status: http.StatusForbidden, view: integration.PortalView(in),
			title: "This form has expired", message: "Reload the page and try again."})
		return
	}
	payload := map[string]any{}
	fields := integration.FormFields(in)
	for _, fd := range fields {
		if v, ok := r.PostForm[fd.Key]; ok && len(v) > 0 {
			payload[fd.Key] = v[0]
		}
	}
	if reason := integration.UnavailableReason(in); reason != "" {
		// The form said so already; a POST anyway gets the same page.
		f.renderForm(w, http.StatusServiceUnavailable, in, sess, fields, "", nil)
		return
	}
	if in.Auth.Type == manifest.AuthOAuth2 {
		f.startOAuth(w, r, sess, in, payload, fields)
		return
	}
	conn, fail := f.ConnectWithValues(r.Context(), in, sess.ProjectID, sess.UserID, payload, sess.CredentialID)
	if fail != nil {
		notice := fail.Message
		if fail.Code == apierror.InvalidInput {
			notice = "Check the highlighted fields." // each says what is wrong
		}
		f.renderForm(w, fail.Status, in, sess, refill(fields, payload, fail.Fields), notice, fail.Provider)
		return
	}
	f.cookies().endSession(w) // replaced by renderConnected when there are workflows to choose
	f.renderConnected(w, r, in, conn, sess.flow())
}

// renderConnected shows success, naming the app and the account. A flow
// started by the SDK (session set) records the credential for the SDK's
// session-id polling and closes the popup at once, which is what the SDK
// waits for.
func (f *Flows) renderConnected(w http.ResponseWriter, r *http.Request, in *manifest.Integration, conn *connection.Connection, fc flowContext) {
	payload := map[string]any{"type": "plugboard:connected", "integrationId": in.SDKName(), "credentialId": conn.ID}
	msg := "You can close this window and go back to the app."
	if fc.ReturnURL != "" {
		msg = "You can go back to " + f.appView(fc.ProjectID).Name + " now."
	}
	page := portal.Page{Integration: integration.PortalView(in), App: f.appView(fc.ProjectID), Account: fc.Account,
		Result: true, Success: true, Title: in.Name + " is connected", Message: msg, Opener: fc.Opener, Payload: payload, ReturnURL: fc.ReturnURL}
	page.WorkflowsURL = f.manageSession(w, r, in, conn, fc)
	if fc.Session != "" {
		if err := f.Tickets.PutTicket(r.Context(), ticketSDKSession, fc.Session, []byte(conn.ID), time.Now().Add(sdkSessionLifetime)); err != nil {
			f.Log.Error("recording the SDK session failed", "error", err.Error())
		}
		page.Opener, page.Payload, page.AutoClose = "", nil, true
	}
	portal.Render(w, http.StatusOK, page, f.portalOptions())
}

// refill puts back what the user typed (never secrets) with field errors.
func refill(fields []portal.Field, payload map[string]any, errs []apierror.FieldError) []portal.Field {
	out := append([]portal.Field(nil), fields...)
	for i := range out {
		if v, ok := payload[out[i].Key].(string); ok && !out[i].Secret {
			out[i].Value = v
		}
		for _, e := range errs {
			if e.Field == out[i].Key {
				out[i].Error = e.Message
			}
		}
	}
	return out
}
