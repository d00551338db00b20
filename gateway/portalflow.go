package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
)

// Ticket kinds in the store: single-use, expiring records.
const (
	ticketConnectLink = "connect_link"
	ticketOAuthState  = "oauth_state"
	// ticketSessionSwitch holds a connect link's session while the browser
	// decides whether it replaces the other account's session open there.
	ticketSessionSwitch = "session_switch"
	// ticketOAuthSession maps an SDK session (oauthMetaKeyId) to the
	// credential its popup created.
	ticketOAuthSession = "oauth_session"
	sdkSessionLifetime = 10 * time.Minute
)

type connectLinkRequest struct {
	IntegrationID string `json:"integrationId"`
	CredentialID  string `json:"credentialId,omitempty"`
	Origin        string `json:"origin,omitempty"`
}

// createConnectLink gives the app a short-lived, single-use URL that opens
// the Connect Portal for this user, so the user token never sits in a
// browser's history or address bar.
func (s *Server) createConnectLink(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok || !s.allowUser(w, r, u.project.ID, u.id, false) {
		return
	}
	var req connectLinkRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, `body must be JSON {"integrationId": "custom.<id>"}`)
		return
	}
	in, ok := s.resolveIntegration(u.project.ID, req.IntegrationID)
	if !ok {
		writeError(w, http.StatusNotFound, CodeIntegrationMissing, "no integration "+quoteID(req.IntegrationID))
		return
	}
	if req.Origin != "" && !s.allowedOrigin(req.Origin) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "origin "+quoteID(req.Origin)+" is not one of the gateway's allowed app origins")
		return
	}
	if req.CredentialID != "" {
		if c, err := s.store.Get(r.Context(), u.project.ID, u.id, req.CredentialID); err != nil || c.IntegrationID != in.ID {
			writeError(w, http.StatusNotFound, CodeCredentialMissing, "no credential "+quoteID(req.CredentialID)+" for "+in.Name)
			return
		}
	} else if f := s.connectionCapFailure(r.Context(), in, u.project.ID, u.id); f != nil {
		writeError(w, f.status, f.code, f.message)
		return
	}
	code := randomToken(32)
	sess := portalSession{ProjectID: u.project.ID, UserID: u.id, IntegrationID: in.ID, CredentialID: req.CredentialID, Opener: req.Origin, Account: u.account}
	b, _ := json.Marshal(sess)
	expires := time.Now().Add(linkLifetime)
	if err := s.store.PutTicket(r.Context(), ticketConnectLink, hashToken(code), b, expires); err != nil {
		s.log.Error("storing a connect link failed", "error", err.Error())
		writeError(w, http.StatusServiceUnavailable, CodeStoreUnavailable, "could not create the link; try again")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"url": s.cfg.PublicURL + "/connect/link/" + code, "expiresAt": expires.UTC()})
}

// openConnectLink redeems a connect link: it starts a portal session in this
// browser and sends it to the portal page (a URL without the secret), which
// names the app and the account before anything can be submitted. A
// session for another account already open in this browser is never
// silently replaced: the browser is asked which one to go on with.
func (s *Server) openConnectLink(w http.ResponseWriter, r *http.Request) {
	b, err := s.store.TakeTicket(r.Context(), ticketConnectLink, hashToken(r.PathValue("code")))
	var sess portalSession
	if err != nil || json.Unmarshal(b, &sess) != nil {
		s.renderResult(w, http.StatusNotFound, portal.Integration{Name: "Plugboard", AccentColor: manifest.DefaultAccentColor}, false,
			"This link has expired or was already used", "Go back to the app and start connecting again.", nil, "", nil)
		return
	}
	in, ok := s.reloader.Catalog().Lookup(sess.IntegrationID)
	if !ok {
		s.renderResult(w, http.StatusNotFound, portal.Integration{Name: "Plugboard", AccentColor: manifest.DefaultAccentColor}, false,
			"Integration not found", "This integration is no longer available. Go back to the app.", nil, "", nil)
		return
	}
	if cur, err := s.session(r); err == nil && !cur.sameUser(sess) {
		s.askSwitch(w, r, in, cur, sess)
		return
	}
	s.startSession(w, r, sess)
}

// startSession sets a fresh portal session and sends the browser to its form.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, sess portalSession) {
	sess.CSRF = randomToken(18)
	sess.Expires = time.Now().Add(sessionLifetime)
	if err := s.setSession(w, sess); err != nil {
		writeError(w, http.StatusInternalServerError, CodeStoreUnavailable, "could not start the session")
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
func (s *Server) askSwitch(w http.ResponseWriter, r *http.Request, in *manifest.Integration, cur, next portalSession) {
	code := randomToken(32)
	b, _ := json.Marshal(sessionSwitch{Next: next, Replaces: hashToken(cur.CSRF)})
	if err := s.store.PutTicket(r.Context(), ticketSessionSwitch, hashToken(code), b, time.Now().Add(linkLifetime)); err != nil {
		s.log.Error("storing a session switch failed", "error", err.Error())
		s.renderResult(w, http.StatusServiceUnavailable, s.portalView(in), false, "Something went wrong on our side", "Go back to the app and try again.", nil, "", nil)
		return
	}
	current := cur.Account
	if current == "" {
		current = "another account"
	}
	portal.Render(w, http.StatusOK, portal.Page{Integration: s.portalView(in), App: s.appView(next.ProjectID), Account: accountOf(next),
		Title: "Another account is connecting in this browser",
		Switch: &portal.Switch{Current: current, CurrentURL: "/connect/portal/" + url.PathEscape(cur.IntegrationID),
			Action: "/connect/switch/" + url.PathEscape(code)}}, s.portalOptions())
}

// switchSession replaces the browser's session with the connect link's,
// after the person chose to (askSwitch).
func (s *Server) switchSession(w http.ResponseWriter, r *http.Request) {
	unknown := portal.Integration{Name: "Plugboard", AccentColor: manifest.DefaultAccentColor}
	b, err := s.store.TakeTicket(r.Context(), ticketSessionSwitch, hashToken(r.PathValue("code")))
	var sw sessionSwitch
	if err != nil || json.Unmarshal(b, &sw) != nil {
		s.renderResult(w, http.StatusNotFound, unknown, false, "This choice has expired or was already made", "Go back to the app and start connecting again.", nil, "", nil)
		return
	}
	cur, err := s.session(r)
	if err != nil || !constantEqual(hashToken(cur.CSRF), sw.Replaces) {
		s.renderResult(w, http.StatusForbidden, unknown, false, "This choice was made in another browser", "For your safety, open the connect link again in the browser you want to use.", nil, "", nil)
		return
	}
	s.startSession(w, r, sw.Next)
}

// accountOf names a session's account for display.
func accountOf(sess portalSession) string {
	if sess.Account != "" {
		return sess.Account
	}
	return displayText(sess.UserID)
}

// appView is what the portal shows of a project.
func (s *Server) appView(projectID string) portal.App {
	if p, ok := s.projects[projectID]; ok {
		return portal.App{Name: p.Name, Logo: p.Logo}
	}
	return portal.App{Name: projectID}
}

// portalSessionFor returns the browser's session for the integration, or
// renders why there is none.
func (s *Server) portalSessionFor(w http.ResponseWriter, r *http.Request) (portalSession, *manifest.Integration, bool) {
	in, ok := lookup(s.reloader.Catalog(), r.PathValue("id"))
	if !ok {
		s.renderResult(w, http.StatusNotFound, portal.Integration{Name: "Plugboard", AccentColor: manifest.DefaultAccentColor}, false,
			"Integration not found", "This integration is not available. Go back to the app.", nil, "", nil)
		return portalSession{}, nil, false
	}
	sess, err := s.session(r)
	if err != nil || sess.IntegrationID != in.ID {
		s.renderResult(w, http.StatusUnauthorized, s.portalView(in), false,
			"Your session has ended", "Go back to the app and open the connect page again.", nil, "", nil)
		return portalSession{}, nil, false
	}
	return sess, in, true
}

func (s *Server) portalView(in *manifest.Integration) portal.Integration {
	v := portal.Integration{ID: in.ID, Name: in.Name, Description: in.Description, AccentColor: in.AccentColor, AuthType: string(in.Auth.Type)}
	if in.Icon != nil {
		v.IconURL = "/v1/integrations/" + url.PathEscape(in.ID) + "/icon.svg"
	}
	return v
}

// formFields lists what the user fills in for an integration.
func formFields(in *manifest.Integration) []portal.Field {
	var fields []portal.Field
	for _, i := range in.Auth.Inputs {
		fields = append(fields, portal.Field{Key: i.Key, Label: i.Label, Help: i.Help, Placeholder: i.Placeholder, Secret: i.Secret, Required: i.Required, Enum: i.Enum, Value: i.Default})
	}
	if cc := in.Auth.ClientCredentials; cc != nil {
		fields = append(fields,
			portal.Field{Key: fieldClientID, Label: cc.ClientIDLabel, Required: true},
			portal.Field{Key: fieldClientSecret, Label: cc.ClientSecretLabel, Required: true, Secret: true})
	}
	return fields
}

func (s *Server) renderForm(w http.ResponseWriter, status int, in *manifest.Integration, sess portalSession, fields []portal.Field, notice string, provider *providerAnswer) {
	submit := "Connect"
	if in.Auth.Type == manifest.AuthOAuth2 {
		submit = "Continue to " + in.Name
	}
	page := portal.Page{Integration: s.portalView(in), App: s.appView(sess.ProjectID), Account: accountOf(sess),
		Fields: fields, Action: "/connect/portal/" + url.PathEscape(in.ID), CSRF: sess.CSRF, Submit: submit, Notice: notice}
	if provider != nil {
		page.Provider = &portal.ProviderError{Status: provider.Status, Message: provider.Body}
	}
	portal.Render(w, status, page, s.portalOptions())
}

func (s *Server) renderResult(w http.ResponseWriter, status int, in portal.Integration, success bool, title, message string, provider *providerAnswer, opener string, payload any) {
	page := portal.Page{Integration: in, Result: true, Success: success, Title: title, Message: message, Opener: opener, Payload: payload}
	if provider != nil {
		page.Provider = &portal.ProviderError{Status: provider.Status, Message: provider.Body}
	}
	portal.Render(w, status, page, s.portalOptions())
}

func (s *Server) portalOptions() portal.Options {
	return portal.Options{FrameAncestors: s.cfg.AllowedOrigins, Log: s.log}
}

// showPortal renders the connect form.
func (s *Server) showPortal(w http.ResponseWriter, r *http.Request) {
	sess, in, ok := s.portalSessionFor(w, r)
	if !ok {
		return
	}
	s.renderForm(w, http.StatusOK, in, sess, formFields(in), "", nil)
}

// submitPortal handles the connect form: API keys and client credentials
// are checked, tested and stored; OAuth inputs start the authorization flow.
func (s *Server) submitPortal(w http.ResponseWriter, r *http.Request) {
	sess, in, ok := s.portalSessionFor(w, r)
	if !ok || !s.allowUser(w, r, sess.ProjectID, sess.UserID, true) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !constantEqual(r.PostForm.Get("csrf"), sess.CSRF) {
		s.renderResult(w, http.StatusForbidden, s.portalView(in), false, "This form has expired", "Reload the page and try again.", nil, "", nil)
		return
	}
	payload := map[string]any{}
	fields := formFields(in)
	for _, f := range fields {
		if v, ok := r.PostForm[f.Key]; ok && len(v) > 0 {
			payload[f.Key] = v[0]
		}
	}
	if in.Auth.Type == manifest.AuthOAuth2 {
		s.startOAuth(w, r, sess, in, payload, fields)
		return
	}
	conn, fail := s.connectWithValues(r.Context(), in, sess.ProjectID, sess.UserID, payload, sess.CredentialID)
	if fail != nil {
		s.renderForm(w, fail.status, in, sess, refill(fields, payload, fail.fields), fail.message, fail.provider)
		return
	}
	s.endSession(w)
	s.renderConnected(w, r, in, conn, sess.Opener, sess.Session)
}

// renderConnected shows success. A flow started by the SDK (session set)
// records the credential for the SDK's session-id polling and closes the
// popup at once, which is what the SDK waits for.
func (s *Server) renderConnected(w http.ResponseWriter, r *http.Request, in *manifest.Integration, conn *connection.Connection, opener, session string) {
	payload := map[string]any{"type": "plugboard:connected", "integrationId": in.SDKName(), "credentialId": conn.ID}
	page := portal.Page{Integration: s.portalView(in), Result: true, Success: true, Title: in.Name + " is connected",
		Message: "You can close this window and go back to the app.", Opener: opener, Payload: payload}
	if session != "" {
		if err := s.store.PutTicket(r.Context(), ticketOAuthSession, session, []byte(conn.ID), time.Now().Add(sdkSessionLifetime)); err != nil {
			s.log.Error("recording the SDK session failed", "error", err.Error())
		}
		page.Opener, page.Payload, page.AutoClose = "", nil, true
	}
	portal.Render(w, http.StatusOK, page, s.portalOptions())
}

// refill puts back what the user typed (never secrets) with field errors.
func refill(fields []portal.Field, payload map[string]any, errs []fieldError) []portal.Field {
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

type oauthState struct {
	ProjectID     string            `json:"p"`
	UserID        string            `json:"u"`
	IntegrationID string            `json:"i"`
	CredentialID  string            `json:"c,omitempty"`
	Inputs        map[string]string `json:"in,omitempty"`
	Verifier      string            `json:"v"`
	Binding       string            `json:"b"`
	Opener        string            `json:"o,omitempty"`
	Session       string            `json:"s,omitempty"` // SDK session key (see sdkoauth.go)
}

func (s *Server) redirectURI() string { return s.cfg.PublicURL + "/oauth/callback" }

func (s *Server) startOAuth(w http.ResponseWriter, r *http.Request, sess portalSession, in *manifest.Integration, payload map[string]any, fields []portal.Field) {
	values, errs := checkInputs(in, payload)
	if len(errs) > 0 {
		s.renderForm(w, http.StatusBadRequest, in, sess, refill(fields, payload, errs), "Check the highlighted fields.", nil)
		return
	}
	if sess.CredentialID == "" {
		if f := s.connectionCapFailure(r.Context(), in, sess.ProjectID, sess.UserID); f != nil {
			s.renderForm(w, f.status, in, sess, refill(fields, payload, nil), f.message, nil)
			return
		}
	}
	state := randomToken(32)
	st := oauthState{ProjectID: sess.ProjectID, UserID: sess.UserID, IntegrationID: in.ID, CredentialID: sess.CredentialID,
		Inputs: values, Verifier: randomToken(48), Binding: hashToken(s.browserBinding(w, r)), Opener: sess.Opener, Session: sess.Session}
	authURL, err := s.oauth.AuthCodeURL(in, values, s.redirectURI(), state, st.Verifier)
	if err != nil {
		s.log.Warn("cannot build the authorization URL", "integration", in.ID, "error", err.Error())
		s.renderForm(w, http.StatusBadGateway, in, sess, refill(fields, payload, nil), in.Name+" is not set up correctly on this gateway; tell the app's team.", nil)
		return
	}
	b, _ := json.Marshal(st)
	if err := s.store.PutTicket(r.Context(), ticketOAuthState, hashToken(state), b, time.Now().Add(stateLifetime)); err != nil {
		s.log.Error("storing OAuth state failed", "error", err.Error())
		s.renderForm(w, http.StatusServiceUnavailable, in, sess, refill(fields, payload, nil), "Something went wrong on our side; try again.", nil)
		return
	}
	portal.Render(w, http.StatusOK, portal.Page{Integration: s.portalView(in), Redirect: authURL}, s.portalOptions())
}

// oauthCallback finishes the authorization code flow. The state is checked
// (and used up) before anything else, then the browser binding, and only
// then is the code exchanged.
func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	unknown := portal.Integration{Name: "Plugboard", AccentColor: manifest.DefaultAccentColor}
	stateParam := q.Get("state")
	if stateParam == "" {
		s.renderResult(w, http.StatusBadRequest, unknown, false, "Sign-in could not be completed", "The provider sent no state. Start connecting again from the app.", nil, "", nil)
		return
	}
	b, err := s.store.TakeTicket(r.Context(), ticketOAuthState, hashToken(stateParam))
	var st oauthState
	if err != nil || json.Unmarshal(b, &st) != nil {
		s.renderResult(w, http.StatusBadRequest, unknown, false, "This sign-in has expired or was already used", "Start connecting again from the app.", nil, "", nil)
		return
	}
	in, ok := s.reloader.Catalog().Lookup(st.IntegrationID)
	if !ok {
		s.renderResult(w, http.StatusNotFound, unknown, false, "Integration not found", "This integration is no longer available.", nil, "", nil)
		return
	}
	view := s.portalView(in)
	fail := func(status int, title, msg string, provider *providerAnswer) {
		payload := map[string]any{"type": "plugboard:error", "integrationId": in.SDKName(), "message": msg}
		if st.Session != "" {
			// The SDK's shape: it rejects connect() with errorResponse.
			payload = map[string]any{"type": "oauth_error_callback", "error": title, "errorResponse": map[string]any{"message": msg},
				"integrationId": integrationUUID(st.ProjectID, in.ID)}
		}
		s.renderResult(w, status, view, false, title, msg, provider, st.Opener, payload)
	}
	if !s.sameBrowser(r, st) {
		fail(http.StatusBadRequest, "Sign-in started in another browser", "For your safety, finish connecting in the browser where you started. Start again from the app.", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		msg := "You did not give access to " + in.Name + "."
		if e != "access_denied" {
			msg = in.Name + " could not complete the sign-in (" + truncate(e, 64) + ")."
		}
		var provider *providerAnswer
		if d := q.Get("error_description"); d != "" {
			provider = &providerAnswer{Body: truncate(d, 300)}
		}
		fail(http.StatusBadRequest, "Not connected", msg, provider)
		return
	}
	code := q.Get("code")
	if code == "" {
		fail(http.StatusBadRequest, "Not connected", in.Name+" sent no authorization code. Start again from the app.", nil)
		return
	}
	if st.CredentialID == "" {
		if f := s.connectionCapFailure(r.Context(), in, st.ProjectID, st.UserID); f != nil {
			fail(f.status, "Not connected", f.message, nil)
			return
		}
	}
	tok, err := s.oauth.Exchange(r.Context(), in, st.Inputs, s.redirectURI(), code, st.Verifier)
	if err != nil {
		var pe *oauth.ProviderError
		if errors.As(err, &pe) {
			s.log.Info("OAuth code exchange failed", "integration", in.ID, "error", err.Error())
			fail(http.StatusBadGateway, "Not connected", in.Name+" did not accept the sign-in. Start again from the app.",
				&providerAnswer{Status: pe.Status, Body: strings.TrimSpace(pe.Code + " " + pe.Description)})
			return
		}
		f := s.outboundFailure(in, "OAuth code exchange", err)
		if f.code != CodeEgressRefused && !errors.Is(err, oauth.ErrRedirect) {
			f.message = "Could not complete the sign-in with " + in.Name + ". Start again from the app."
		}
		fail(f.status, "Not connected", f.message, nil)
		return
	}
	cred, exp := oauth.FromToken(tok, st.Inputs, false)
	conn := &connection.Connection{ProjectID: st.ProjectID, UserID: st.UserID, IntegrationID: in.ID, Status: connection.StatusValid, Credential: cred, ExpiresAt: exp}
	stored, f := s.finishConnect(r.Context(), in, conn, st.CredentialID)
	if f != nil {
		fail(f.status, "Not connected", f.message, f.provider)
		return
	}
	// The portal session that started this flow has done its work. (One
	// for another account or integration, opened since, stays.)
	if cur, err := s.session(r); err == nil && cur.ProjectID == st.ProjectID && cur.UserID == st.UserID && cur.IntegrationID == st.IntegrationID {
		s.endSession(w)
	}
	s.renderConnected(w, r, in, stored, st.Opener, st.Session)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func constantEqual(a, b string) bool {
	return a != "" && len(a) == len(b) && hashToken(a) == hashToken(b)
}

// allowedOrigin reports whether origin is one of the configured app origins.
func (s *Server) allowedOrigin(origin string) bool {
	for _, o := range s.cfg.AllowedOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// userCredential returns the credential {id} of the request's user, or
// writes why not.
func (s *Server) userCredential(w http.ResponseWriter, r *http.Request) (*connection.Connection, bool) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return nil, false
	}
	conn, err := s.store.Get(r.Context(), u.project.ID, u.id, r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, CodeCredentialMissing, "no credential "+quoteID(r.PathValue("id")))
		return nil, false
	}
	return conn, true
}

// deleteCredential disconnects: it revokes the token at the provider when
// the manifest declares a revocation URL, then deletes the connection.
func (s *Server) deleteCredential(w http.ResponseWriter, r *http.Request) {
	conn, ok := s.userCredential(w, r)
	if !ok {
		return
	}
	in, _ := s.reloader.Catalog().Lookup(conn.IntegrationID)
	if err := s.disconnect(r.Context(), in, conn); err != nil && !errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusServiceUnavailable, CodeStoreUnavailable, "could not delete the credential; try again")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getCredential returns one of the user's credentials, without secrets.
func (s *Server) getCredential(w http.ResponseWriter, r *http.Request) {
	if conn, ok := s.userCredential(w, r); ok {
		writeJSON(w, http.StatusOK, s.sdkCredentialOf(conn))
	}
}
