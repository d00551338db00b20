package connect

import (
	"net/http"
	"net/url"
	"time"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/manifest"
)

// openConnectLink redeems a connect link: it starts a portal session in this
// browser and sends it to the portal page (a URL without the secret), which
// names the app and the account before anything can be submitted. A
// session for another account already open in this browser is never
// silently replaced: the browser is asked which one to go on with.
func (f *Flows) openConnectLink(w http.ResponseWriter, r *http.Request) {
	var sess portalSession
	if err := f.takeJSON(r.Context(), ticketConnectLink, hashToken(r.PathValue("code")), &sess); err != nil {
		f.renderFailure(w, http.StatusNotFound, "This link has expired or was already used", "Go back to the app and start connecting again.")
		return
	}
	accesslog.Set(r.Context(), sess.ProjectID, sess.UserID, "")
	in, ok := f.Integrations.Lookup(sess.IntegrationID)
	if !ok {
		f.renderFailure(w, http.StatusNotFound, "Integration not found", "This integration is no longer available. Go back to the app.")
		return
	}
	accesslog.SetIntegration(r.Context(), in.ID)
	if cur, err := f.cookies().session(r); err == nil && !cur.sameUser(sess) {
		f.askSwitch(w, r, in, cur, sess)
		return
	}
	f.startSession(w, r, sess)
}

// startSession sets a fresh portal session and sends the browser to its form.
func (f *Flows) startSession(w http.ResponseWriter, r *http.Request, sess portalSession) {
	sess.CSRF = randomToken(18)
	sess.Expires = time.Now().Add(sessionLifetime)
	if err := f.cookies().setSession(w, sess); err != nil {
		f.renderFailure(w, http.StatusInternalServerError, "Something went wrong on our side", "Go back to the app and try again.")
		return
	}
	http.Redirect(w, r, "/connect/portal/"+url.PathEscape(sess.IntegrationID), http.StatusSeeOther)
}

// sessionSwitch is a connect link's session waiting for the browser's
// choice, bound to the session it would replace: only the browser that
// holds that session (and was shown the question) can make the switch, so
// a switch code fetched in one browser is useless in another.
type sessionSwitch struct {
	Next     portalSession `json:"n"`
	Replaces string        `json:"r"` // hash of the current session's CSRF token
}

// askSwitch shows whose session is open here and whose the link is, and
// lets the person choose.
func (f *Flows) askSwitch(w http.ResponseWriter, r *http.Request, in *manifest.Integration, cur, next portalSession) {
	code := randomToken(32)
	if err := f.putJSON(r.Context(), ticketSessionSwitch, hashToken(code), sessionSwitch{Next: next, Replaces: hashToken(cur.CSRF)}, linkLifetime); err != nil {
		f.Log.Error("storing a session switch failed", "error", err.Error())
		f.renderResult(w, result{status: http.StatusServiceUnavailable, view: integration.PortalView(in),
			title: "Something went wrong on our side", message: "Go back to the app and try again."})
		return
	}
	current := cur.Account
	if current == "" {
		current = "another account"
	}
	portal.Render(w, http.StatusOK, portal.Page{Integration: integration.PortalView(in), App: f.appView(next.ProjectID), Account: accountOf(next),
		Title: "Another account is connecting in this browser",
		Switch: &portal.Switch{Current: current, CurrentURL: "/connect/portal/" + url.PathEscape(cur.IntegrationID),
			Action: "/connect/switch/" + url.PathEscape(code)}}, f.portalOptions())
}

// switchSession replaces the browser's session with the connect link's,
// after the person chose to (askSwitch).
func (f *Flows) switchSession(w http.ResponseWriter, r *http.Request) {
	var sw sessionSwitch
	if err := f.takeJSON(r.Context(), ticketSessionSwitch, hashToken(r.PathValue("code")), &sw); err != nil {
		f.renderFailure(w, http.StatusNotFound, "This choice has expired or was already made", "Go back to the app and start connecting again.")
		return
	}
	cur, err := f.cookies().session(r)
	if err != nil || !constantEqual(hashToken(cur.CSRF), sw.Replaces) {
		f.renderFailure(w, http.StatusForbidden, "This choice was made in another browser", "For your safety, open the connect link again in the browser you want to use.")
		return
	}
	f.startSession(w, r, sw.Next)
}
