package sdk

import (
	"net/http"
	"regexp"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connect"
)

// connectLinkRequest is the body of POST …/sdk/connect-links. Fields not
// declared here are refused.
type connectLinkRequest struct {
	IntegrationID string `json:"integrationId"`
	CredentialID  string `json:"credentialId,omitempty"` // reconnect this credential
	Origin        string `json:"origin,omitempty"`       // popup: post the result to this allowed origin
	// ReturnURL is the app page a result page opened in a tab links back
	// to ("Back to <app>"): an absolute URL on an allowed origin.
	ReturnURL string `json:"returnUrl,omitempty"`
}

const connectLinkShape = `{"integrationId": "custom.<id>", "credentialId"?, "origin"?, "returnUrl"?}`

// createConnectLink gives the app a short-lived, single-use URL that opens
// the Connect Portal for this user, so the user token never sits in a
// browser's history or address bar.
func (a *API) createConnectLink(w http.ResponseWriter, r *http.Request) {
	u, ok := a.user(w, r, true)
	if !ok {
		return
	}
	var req connectLinkRequest
	if !decodeBody(w, r, 16<<10, &req, connectLinkShape) {
		return
	}
	in, ok := a.resolve(r, u.Project.ID, req.IntegrationID)
	if !ok {
		apierror.Write(w, notFound(req.IntegrationID))
		return
	}
	if req.Origin != "" && !a.Origins.Allows(req.Origin) {
		apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BadRequest, "Origin "+apierror.Quote(req.Origin)+" is not one of the gateway's allowed origins (--allowed-origins)."))
		return
	}
	var returnURL string
	if req.ReturnURL != "" {
		u, err := a.Origins.ReturnURL(req.ReturnURL)
		if err != nil {
			apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BadRequest, "The "+err.Error()+"."))
			return
		}
		returnURL = u
	}
	link, expires, fail := a.Flows.CreateLink(r.Context(), connect.Link{ProjectID: u.Project.ID, UserID: u.ID, Account: u.Account,
		IntegrationID: in.ID, CredentialID: req.CredentialID, Opener: req.Origin, ReturnURL: returnURL})
	if fail != nil {
		apierror.Write(w, fail)
		return
	}
	apierror.JSON(w, http.StatusCreated, map[string]any{"url": link, "expiresAt": expires.UTC()})
}

var sessionKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// buildOAuth answers the app's build-oauth call with where to send the
// SDK's popup: a single-use connect link. Its portal page names the app and
// the account, then continues with the inputs or credentials the
// integration needs, or with a "Continue to <Provider>" button for OAuth (a
// POST with the session's CSRF token); the provider is never the first
// stop, so no account is connected without the person seeing whose it is.
func (a *API) buildOAuth(w http.ResponseWriter, r *http.Request) {
	u, ok := a.user(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	in, ok := a.resolve(r, u.Project.ID, q.Get("integrationId"))
	if !ok {
		apierror.Write(w, notFound(q.Get("integrationId")))
		return
	}
	key := q.Get("oauthMetaKeyId")
	if !sessionKeyRE.MatchString(key) {
		apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BadRequest, "The oauthMetaKeyId parameter is missing or malformed."))
		return
	}
	opener := q.Get("originForPostMessage")
	if !a.Origins.Allows(opener) {
		opener = ""
	}
	link, _, fail := a.Flows.CreateLink(r.Context(), connect.Link{ProjectID: u.Project.ID, UserID: u.ID, Account: u.Account,
		IntegrationID: in.ID, Opener: opener, SDKSession: connect.SDKSessionKey(u.Project.ID, u.ID, key)})
	if fail != nil {
		apierror.Write(w, fail)
		return
	}
	apierror.JSON(w, http.StatusOK, map[string]string{"redirectUrl": link})
}

// sessionGet answers the SDK's polling: {} while the popup has not
// connected, then {"connectCredentialId": id} until the SDK deletes the
// session. Unknown keys are pending, never an error (a 401/403 here would
// log the user out of the SDK).
func (a *API) sessionGet(w http.ResponseWriter, r *http.Request) {
	u, ok := a.user(w, r, false)
	if !ok {
		return
	}
	id, done := a.Flows.SDKSessionResult(r.Context(), connect.SDKSessionKey(u.Project.ID, u.ID, r.PathValue("key")))
	if !done {
		apierror.JSON(w, http.StatusOK, map[string]any{})
		return
	}
	apierror.JSON(w, http.StatusOK, map[string]string{"connectCredentialId": id})
}

// sessionDelete ends a session (the SDK calls it after reading it).
func (a *API) sessionDelete(w http.ResponseWriter, r *http.Request) {
	u, ok := a.user(w, r, false)
	if !ok {
		return
	}
	a.Flows.EndSDKSession(r.Context(), connect.SDKSessionKey(u.Project.ID, u.ID, r.PathValue("key")))
	apierror.JSON(w, http.StatusOK, map[string]any{})
}
