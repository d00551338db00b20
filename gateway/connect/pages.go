package connect

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/manifest"
)

func (f *Flows) portalOptions() portal.Options {
	return portal.Options{FrameAncestors: f.Origins, Log: f.Log}
}

// appView is what the portal shows of a project.
func (f *Flows) appView(projectID string) portal.App {
	if p, ok := f.Projects.Get(projectID); ok {
		return portal.App{Name: p.Name, Logo: p.Logo}
	}
	return portal.App{Name: projectID}
}

// accountOf names a session's account for display.
func accountOf(sess portalSession) string {
	if sess.Account != "" {
		return sess.Account
	}
	return project.DisplayText(sess.UserID)
}

func providerError(p *apierror.ProviderAnswer) *portal.ProviderError {
	if p == nil {
		return nil
	}
	return &portal.ProviderError{Status: p.Status, Message: p.Body}
}

func (f *Flows) renderForm(w http.ResponseWriter, status int, in *manifest.Integration, sess portalSession, fields []portal.Field, notice string, provider *apierror.ProviderAnswer) {
	submit := "Connect"
	if in.Auth.Type == manifest.AuthOAuth2 {
		submit = "Continue to " + in.Name
	}
	portal.Render(w, status, portal.Page{Integration: integration.PortalView(in), App: f.appView(sess.ProjectID), Account: accountOf(sess),
		Fields: fields, Action: "/connect/portal/" + url.PathEscape(in.ID), CSRF: sess.CSRF, Submit: submit, Notice: notice,
		Provider: providerError(provider)}, f.portalOptions())
}

// flowContext is what the pages at the end of a flow know of the flow:
// whose account, which app, where the result goes.
type flowContext struct {
	ProjectID string
	Account   string // for display (accountOf)
	Opener    string // post the result to this (allowed) origin from a popup
	Session   string // SDK session key: the SDK's popup waits for it to close
	ReturnURL string // the app page a tab links back to
}

// result is a result page: what happened, for the person who was connecting.
type result struct {
	status   int
	view     portal.Integration
	success  bool
	title    string
	message  string
	provider *apierror.ProviderAnswer
	payload  any
	// flow, when known, names the app and the account and says where the
	// result goes (opener, return URL).
	flow *flowContext
}

func (f *Flows) renderResult(w http.ResponseWriter, res result) {
	page := portal.Page{Integration: res.view, Result: true, Success: res.success, Title: res.title, Message: res.message,
		Payload: res.payload, Provider: providerError(res.provider)}
	if fc := res.flow; fc != nil {
		page.App, page.Account, page.Opener, page.ReturnURL = f.appView(fc.ProjectID), fc.Account, fc.Opener, fc.ReturnURL
	}
	portal.Render(w, res.status, page, f.portalOptions())
}

// renderFailure is a failure page without an integration to brand it with.
func (f *Flows) renderFailure(w http.ResponseWriter, status int, title, message string) {
	f.renderResult(w, result{status: status, view: integration.UnknownPortalView(), title: title, message: message})
}

// limitIP refuses page requests beyond the per-address rate before h runs.
func (f *Flows) limitIP(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if f.Limits != nil {
			if e := f.Limits.CheckIP(r); e != nil {
				f.refusePage(w, e)
				return
			}
		}
		h(w, r)
	}
}

// allowUser takes one connect attempt from the user's bucket, or answers
// with the refusal page and returns false.
func (f *Flows) allowUser(w http.ResponseWriter, r *http.Request, projectID, userID string) bool {
	if f.Limits == nil {
		return true
	}
	if e := f.Limits.CheckUser(r, projectID, userID); e != nil {
		f.refusePage(w, e)
		return false
	}
	return true
}

// refusePage explains a rate-limit refusal to a person.
func (f *Flows) refusePage(w http.ResponseWriter, e *apierror.Error) {
	apierror.MarkHeader(w.Header(), e)
	secs := apierror.RetryAfterSeconds(e.RetryAfter)
	f.renderFailure(w, e.Status, "Too many attempts", fmt.Sprintf("Wait %d seconds, then try again.", secs))
}
