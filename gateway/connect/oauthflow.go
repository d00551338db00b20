package connect

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/manifest"
)

// oauthState is an authorization request in flight, stored under the hash
// of the state parameter until the callback uses it up.
type oauthState struct {
	ProjectID     string            `json:"p"`
	UserID        string            `json:"u"`
	IntegrationID string            `json:"i"`
	CredentialID  string            `json:"c,omitempty"`
	Inputs        map[string]string `json:"in,omitempty"`
	Verifier      string            `json:"v"`
	Binding       string            `json:"b"` // hash of the browser's binding cookie
	Opener        string            `json:"o,omitempty"`
	Session       string            `json:"s,omitempty"` // SDK session key (SDKSessionKey)
	Account       string            `json:"a,omitempty"` // for display on the result page
	ReturnURL     string            `json:"r,omitempty"`
}

func (st oauthState) flow() flowContext {
	return flowContext{ProjectID: st.ProjectID, Account: st.Account, Opener: st.Opener, Session: st.Session, ReturnURL: st.ReturnURL}
}

// startOAuth checks the inputs the form sent, stores the state and sends
// the browser to the provider's authorization URL.
func (f *Flows) startOAuth(w http.ResponseWriter, r *http.Request, sess portalSession, in *manifest.Integration, payload map[string]any, fields []portal.Field) {
	values, errs := checkInputs(in, payload)
	if len(errs) > 0 {
		f.renderForm(w, http.StatusBadRequest, in, sess, refill(fields, payload, errs), "Check the highlighted fields.", nil)
		return
	}
	if sess.CredentialID == "" {
		if e := f.CapFailure(r.Context(), in, sess.ProjectID, sess.UserID); e != nil {
			f.renderForm(w, e.Status, in, sess, refill(fields, payload, nil), e.Message, nil)
			return
		}
	}
	state := randomToken(32)
	st := oauthState{ProjectID: sess.ProjectID, UserID: sess.UserID, IntegrationID: in.ID, CredentialID: sess.CredentialID,
		Inputs: values, Verifier: randomToken(48), Binding: hashToken(f.cookies().browserBinding(w, r)), Opener: sess.Opener, Session: sess.Session,
		Account: accountOf(sess), ReturnURL: sess.ReturnURL}
	authURL, err := f.OAuth.AuthCodeURL(in, values, f.redirectURI(), state, st.Verifier)
	if err != nil {
		f.Log.Warn("cannot build the authorization URL", "integration", in.ID, "error", err.Error())
		f.renderForm(w, http.StatusBadGateway, in, sess, refill(fields, payload, nil), in.Name+" is not set up correctly on this gateway; tell the app's team.", nil)
		return
	}
	if err := f.putJSON(r.Context(), ticketOAuthState, hashToken(state), st, stateLifetime); err != nil {
		f.Log.Error("storing OAuth state failed", "error", err.Error())
		f.renderForm(w, http.StatusServiceUnavailable, in, sess, refill(fields, payload, nil), "Something went wrong on our side; try again.", nil)
		return
	}
	portal.Render(w, http.StatusOK, portal.Page{Integration: integration.PortalView(in), Redirect: authURL}, f.portalOptions())
}

// oauthCallback finishes the authorization code flow. The state is checked
// (and used up) before anything else, then the browser binding, and only
// then is the code exchanged.
func (f *Flows) oauthCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	stateParam := q.Get("state")
	if stateParam == "" {
		f.renderFailure(w, http.StatusBadRequest, "Sign-in could not be completed", "The provider sent no state. Start connecting again from the app.")
		return
	}
	var st oauthState
	if err := f.takeJSON(r.Context(), ticketOAuthState, hashToken(stateParam), &st); err != nil {
		f.renderFailure(w, http.StatusBadRequest, "This sign-in has expired or was already used", "Start connecting again from the app.")
		return
	}
	accesslog.Set(r.Context(), st.ProjectID, st.UserID, "")
	in, ok := f.Integrations.Lookup(st.IntegrationID)
	if !ok {
		f.renderFailure(w, http.StatusNotFound, "Integration not found", "This integration is no longer available.")
		return
	}
	accesslog.SetIntegration(r.Context(), in.ID)
	fail := func(status int, title, msg string, provider *apierror.ProviderAnswer) {
		payload := map[string]any{"type": "plugboard:error", "integrationId": in.SDKName(), "message": msg}
		if st.Session != "" {
			// The SDK's shape: it rejects connect() with errorResponse.
			payload = map[string]any{"type": "oauth_error_callback", "error": title, "errorResponse": map[string]any{"message": msg},
				"integrationId": integration.UUID(st.ProjectID, in.ID)}
		}
		fc := st.flow()
		f.renderResult(w, result{status: status, view: integration.PortalView(in), title: title, message: msg, provider: provider,
			payload: payload, flow: &fc})
	}
	if !f.cookies().sameBrowser(r, st.Binding) {
		fail(http.StatusBadRequest, "Sign-in started in another browser", "For your safety, finish connecting in the browser where you started. Start again from the app.", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		msg := "You did not give access to " + in.Name + "."
		if e != "access_denied" {
			msg = in.Name + " could not complete the sign-in (" + truncate(e, 64) + ")."
		}
		var provider *apierror.ProviderAnswer
		if d := q.Get("error_description"); d != "" {
			provider = &apierror.ProviderAnswer{Body: truncate(d, 300)}
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
		if e := f.CapFailure(r.Context(), in, st.ProjectID, st.UserID); e != nil {
			fail(e.Status, "Not connected", e.Message, nil)
			return
		}
	}
	tok, err := f.OAuth.Exchange(r.Context(), in, st.Inputs, f.redirectURI(), code, st.Verifier)
	if err != nil {
		var pe *oauth.ProviderError
		if errors.As(err, &pe) {
			f.Log.Info("OAuth code exchange failed", "integration", in.ID, "error", err.Error())
			provider := &apierror.ProviderAnswer{Status: pe.Status, Body: strings.TrimSpace(pe.Code + " " + pe.Description)}
			e := f.failed(in, &apierror.Error{Status: http.StatusBadGateway, Code: apierror.TokenExchange, Message: in.Name + " did not accept the sign-in.",
				Provider: provider, Cause: fmt.Errorf("OAuth code exchange: %w", err)})
			fail(e.Status, "Not connected", e.Message+" Start again from the app.", provider)
			return
		}
		e := f.failed(in, f.outboundFailure(in, "OAuth code exchange", err))
		if e.Code != apierror.EgressRefused && !errors.Is(err, oauth.ErrRedirect) {
			e.Message = "Could not complete the sign-in with " + in.Name + ". Start again from the app."
		}
		fail(e.Status, "Not connected", e.Message, nil)
		return
	}
	cred, exp := oauth.FromToken(tok, st.Inputs, false)
	conn := &connection.Connection{ProjectID: st.ProjectID, UserID: st.UserID, IntegrationID: in.ID, Status: connection.StatusValid, Credential: cred, ExpiresAt: exp}
	stored, e := f.finishConnect(r.Context(), in, conn, st.CredentialID)
	if e != nil {
		fail(e.Status, "Not connected", e.Message, e.Provider)
		return
	}
	// The portal session that started this flow has done its work. (One
	// for another account or integration, opened since, stays.)
	if cur, err := f.cookies().session(r); err == nil && cur.ProjectID == st.ProjectID && cur.UserID == st.UserID && cur.IntegrationID == st.IntegrationID {
		f.cookies().endSession(w)
	}
	f.renderConnected(w, r, in, stored, st.flow())
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
