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

// sdkOAuthNonce is the popup's first page. It checks the user token (the
// SDK puts it in the URL), marks this browser as the user's for the OAuth
// state check, and tells the opener it is ready.
func (s *Server) sdkOAuthNonce(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pid := r.PathValue("pid")
	unknown := portal.Integration{Name: "Plugboard", AccentColor: manifest.DefaultAccentColor}
	u, fail := s.verifyUser(pid, q.Get("userToken"))
	if fail != nil {
		s.renderResult(w, fail.status, unknown, false, "Cannot connect", "The app's sign-in has expired. Close this window and try again.", nil, "", nil)
		return
	}
	in, ok := s.resolveIntegration(pid, q.Get("integrationId"))
	if !ok {
		in, ok = s.resolveIntegration(pid, q.Get("action"))
	}
	view := unknown
	if ok {
		view = s.portalView(in)
	}
	opener := q.Get("originForPostMessage")
	if !s.allowedOrigin(opener) {
		s.renderResult(w, http.StatusForbidden, view, false, "Cannot connect", "This app is not allowed to use this gateway (its origin is not in --allowed-origins).", nil, "", nil)
		return
	}
	s.bindUser(w, u.project.ID, u.id)
	portal.Render(w, http.StatusOK, portal.Page{Integration: view, Result: true, Success: true, Title: "Connecting " + view.Name + "…",
		Message: "Getting things ready. This window will take you to " + view.Name + ".", Opener: opener,
		Payload: map[string]string{"type": "oauth-nonce-loaded"}}, s.portalOptions())
}

// sdkBuildOAuth answers the app's build-oauth call with where to send the
// popup: the provider's authorization URL for OAuth integrations without
// inputs, otherwise the Connect Portal's form (inputs, API keys, client
// credentials), which continues in the same popup.
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
	session := sdkSessionKey(u.project.ID, u.id, key)
	if in.Auth.Type == manifest.AuthOAuth2 && len(in.Auth.Inputs) == 0 {
		if f := s.connectionCapFailure(r.Context(), in, u.project.ID, u.id); f != nil {
			writeError(w, f.status, f.code, f.message)
			return
		}
		state := randomToken(32)
		st := oauthState{ProjectID: u.project.ID, UserID: u.id, IntegrationID: in.ID, Verifier: randomToken(48),
			Binding: "user:" + hashToken(userBindingValue(u.project.ID, u.id)), Opener: opener, Session: session}
		authURL, err := s.oauth.AuthCodeURL(in, nil, s.redirectURI(), state, st.Verifier)
		if err != nil {
			s.log.Warn("cannot build the authorization URL", "integration", in.ID, "error", err.Error())
			writeError(w, http.StatusBadGateway, CodeBadRequest, in.Name+" is not set up correctly on this gateway: "+err.Error())
			return
		}
		b, _ := json.Marshal(st)
		if err := s.store.PutTicket(r.Context(), ticketOAuthState, hashToken(state), b, time.Now().Add(stateLifetime)); err != nil {
			writeError(w, http.StatusServiceUnavailable, CodeStoreUnavailable, "could not start the sign-in; try again")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"redirectUrl": authURL})
		return
	}
	code := randomToken(32)
	b, _ := json.Marshal(portalSession{ProjectID: u.project.ID, UserID: u.id, IntegrationID: in.ID, Opener: opener, Session: session})
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
