package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/manifest"
)

// The SDK's installIntegration() popup flow (shared/paragon-sdk-protocol.md):
// the popup opens oauth-nonce, which tells the app it loaded; the app
// fetches build-oauth and sends the popup to the URL it returns; when the
// popup has closed itself, the app polls session-id until the credential
// the popup created shows up.

var sessionKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// sdkSessionKey scopes the SDK's random session key to the user, so that one
// user cannot read another's session.
func sdkSessionKey(projectID, userID, key string) string {
	return hashToken(projectID + "\x00" + userID + "\x00" + key)
}

// sdkOAuthNonce is the popup's first page. It checks that an allowed app
// page opened it (popupOpener) and the user token the SDK put in the URL,
// names the app and the account, and tells the opener it is ready. It sets
// no cookie: what binds the flow to this browser is the connect link that
// build-oauth returns next, whose form names the account again before
// anything is submitted.
func (s *Server) sdkOAuthNonce(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pid := r.PathValue("pid")
	unknown := portal.Integration{Name: "Plugboard", AccentColor: manifest.DefaultAccentColor}
	view := unknown
	if in, ok := s.resolveIntegration(pid, q.Get("integrationId")); ok {
		view = s.portalView(in)
	} else if in, ok := s.resolveIntegration(pid, q.Get("action")); ok {
		view = s.portalView(in)
	}
	opener, problem := s.popupOpener(r, q.Get("originForPostMessage"))
	if problem != "" {
		s.log.Warn("SDK popup refused: not opened by an allowed app page", "project", pid, "reason", problem)
		s.renderResult(w, http.StatusForbidden, view, false, "Cannot connect", problem+" Close this window and start again from the app.", nil, "", nil)
		return
	}
	u, fail := s.verifyUser(pid, q.Get("userToken"))
	if fail != nil {
		s.renderResult(w, fail.status, view, false, "Cannot connect", "The app's sign-in has expired. Close this window and try again.", nil, "", nil)
		return
	}
	portal.Render(w, http.StatusOK, portal.Page{Integration: view, App: s.appView(u.project.ID), Account: u.account,
		Result: true, Success: true, Title: "Connecting " + view.Name + "…",
		Message: "Getting things ready.", Opener: opener,
		Payload: map[string]string{"type": "oauth-nonce-loaded"}}, s.portalOptions())
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
func (s *Server) popupOpener(r *http.Request, claimed string) (string, string) {
	if o := r.Header.Get("Origin"); o != "" && !s.allowedOrigin(o) {
		return "", "This window was opened from " + quoteID(o) + ", which is not an app allowed to use this gateway."
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
	if !s.allowedOrigin(origin) {
		return "", "This window was opened from " + quoteID(origin) + ", which is not an app allowed to use this gateway."
	}
	if claimed != origin {
		return "", "This window was opened from " + quoteID(origin) + " but names " + quoteID(claimed) + " as its app."
	}
	return origin, ""
}

// sdkBuildOAuth answers the app's build-oauth call with where to send the
// popup: a single-use connect link. Its portal page names the app and the
// account, then continues with the inputs or credentials the integration
// needs, or with a "Continue to <Provider>" button for OAuth (a POST with
// the session's CSRF token); the provider is never the first stop, so no
// account is connected without the person seeing whose it is.
func (s *Server) sdkBuildOAuth(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok || !s.allowUser(w, r, u.project.ID, u.id, false) {
		return
	}
	q := r.URL.Query()
	in, ok := s.resolveIntegration(u.project.ID, q.Get("integrationId"))
	if !ok {
		writeError(w, http.StatusNotFound, CodeIntegrationMissing, "no integration "+quoteID(q.Get("integrationId")))
		return
	}
	key := q.Get("oauthMetaKeyId")
	if !sessionKeyRE.MatchString(key) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "oauthMetaKeyId is missing or malformed")
		return
	}
	opener := q.Get("originForPostMessage")
	if !s.allowedOrigin(opener) {
		opener = ""
	}
	if f := s.connectionCapFailure(r.Context(), in, u.project.ID, u.id); f != nil {
		writeError(w, f.status, f.code, f.message)
		return
	}
	code := randomToken(32)
	b, _ := json.Marshal(portalSession{ProjectID: u.project.ID, UserID: u.id, IntegrationID: in.ID, Opener: opener,
		Session: sdkSessionKey(u.project.ID, u.id, key), Account: u.account})
	if err := s.store.PutTicket(r.Context(), ticketConnectLink, hashToken(code), b, time.Now().Add(linkLifetime)); err != nil {
		writeError(w, http.StatusServiceUnavailable, CodeStoreUnavailable, "could not start connecting; try again")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirectUrl": s.cfg.PublicURL + "/connect/link/" + url.PathEscape(code)})
}

// sdkSessionGet answers the SDK's polling: {} while the popup has not
// connected, then {"connectCredentialId": id}. Unknown keys are pending,
// never an error (a 401/403 here would log the user out of the SDK).
func (s *Server) sdkSessionGet(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	key := sdkSessionKey(u.project.ID, u.id, r.PathValue("key"))
	b, err := s.store.TakeTicket(r.Context(), ticketOAuthSession, key)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	// Polling must not use the answer up: put it back until DELETE.
	if err := s.store.PutTicket(r.Context(), ticketOAuthSession, key, b, time.Now().Add(sdkSessionLifetime)); err != nil {
		s.log.Warn("re-storing an SDK session failed", "error", err.Error())
	}
	writeJSON(w, http.StatusOK, map[string]string{"connectCredentialId": string(b)})
}

// sdkSessionDelete ends a session (the SDK calls it after reading it).
func (s *Server) sdkSessionDelete(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	_, _ = s.store.TakeTicket(r.Context(), ticketOAuthSession, sdkSessionKey(u.project.ID, u.id, r.PathValue("key")))
	writeJSON(w, http.StatusOK, map[string]any{})
}
