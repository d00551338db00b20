package connect

import (
	"net/http"
	"net/url"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/portal"
)

// The SDK's installIntegration() popup (shared/paragon-sdk-protocol.md):
// the popup opens oauth-nonce, which tells the app it loaded; the app
// fetches build-oauth (package sdk), which returns a connect link
// (CreateLink) to send the popup to; when the popup has closed itself, the
// app polls session-id until the credential the popup created shows up
// (SDKSessionResult).

// sdkOAuthNonce is the popup's first page. It checks that an allowed app
// page opened it (popupOpener) and the user token the SDK put in the URL,
// names the app and the account, and tells the opener it is ready. It sets
// no cookie: what binds the flow to this browser is the connect link that
// build-oauth returns next, whose form names the account again before
// anything is submitted.
func (f *Flows) sdkOAuthNonce(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pid := r.PathValue("pid")
	view := integration.UnknownPortalView()
	in, ok := f.Integrations.Resolve(pid, q.Get("integrationId"))
	if !ok {
		in, ok = f.Integrations.Resolve(pid, q.Get("action"))
	}
	if ok {
		view = integration.PortalView(in)
		accesslog.SetIntegration(r.Context(), in.ID)
	}
	opener, problem := f.popupOpener(r, q.Get("originForPostMessage"))
	if problem != "" {
		f.Log.Warn("SDK popup refused: not opened by an allowed app page", "project", pid, "reason", problem)
		f.renderResult(w, result{status: http.StatusForbidden, view: view, title: "Cannot connect", message: problem + " Close this window and start again from the app."})
		return
	}
	u, fail := f.Projects.Verify(pid, q.Get("userToken"))
	if fail == nil {
		accesslog.SetUser(r.Context(), u.Project.ID, u.ID)
	}
	if fail != nil {
		f.renderResult(w, result{status: fail.Status, view: view, title: "Cannot connect", message: "The app's sign-in has expired. Close this window and try again."})
		return
	}
	if view.Unavailable != "" {
		// Said here, in the popup the person is looking at. The opener
		// still hears that the page loaded: the SDK then asks build-oauth,
		// whose error (integration_unavailable) it logs to the console.
		fc := flowContext{ProjectID: u.Project.ID, Account: u.Account, Opener: opener}
		f.renderResult(w, result{status: http.StatusServiceUnavailable, view: view, title: "Cannot connect " + view.Name,
			message: integration.Unavailable(in) + " Close this window and try again later.", payload: map[string]string{"type": "oauth-nonce-loaded"}, flow: &fc})
		return
	}
	portal.Render(w, http.StatusOK, portal.Page{Integration: view, App: f.appView(u.Project.ID), Account: u.Account,
		Result: true, Success: true, Title: "Connecting " + view.Name + "…",
		Message: "Getting things ready.", Opener: opener,
		Payload: map[string]string{"type": "oauth-nonce-loaded"}}, f.portalOptions())
}

// popupOpener checks which page opened the SDK's popup. A window.open
// navigation carries no Origin header, but browsers send the opener's
// origin as Referer under the default referrer policy
// (strict-origin-when-cross-origin; Chromium sends "https://app.example/").
// The popup may only start from one of the allowed app origins, and only
// the one the SDK names as originForPostMessage (window.location.origin).
// Without a Referer — a page with Referrer-Policy no-referrer or
// same-origin, a link pasted into the address bar — it is refused. It
// returns the origin, or why not (a sentence for the end user).
func (f *Flows) popupOpener(r *http.Request, claimed string) (string, string) {
	if o := r.Header.Get("Origin"); o != "" && !f.Origins.Allows(o) {
		return "", "This window was opened from " + apierror.Quote(o) + ", which is not an app allowed to use this gateway."
	}
	ref := r.Referer()
	if ref == "" {
		return "", "This window was opened without saying from where (the opening page sent no Referer; " +
			"the app's pages need a referrer policy that sends their origin, such as the default strict-origin-when-cross-origin)."
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", "This window was opened from a page this gateway cannot identify."
	}
	origin := u.Scheme + "://" + u.Host
	if !f.Origins.Allows(origin) {
		return "", "This window was opened from " + apierror.Quote(origin) + ", which is not an app allowed to use this gateway."
	}
	if claimed != origin {
		return "", "This window was opened from " + apierror.Quote(origin) + " but names " + apierror.Quote(claimed) + " as its app."
	}
	return origin, ""
}
