package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
)

// connectFailure is why a connection attempt stored nothing: what to tell
// the user, with the provider's own answer when there is one.
type connectFailure struct {
	status   int
	code     string
	message  string
	fields   []fieldError
	provider *providerAnswer
}

type providerAnswer struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// connectWithValues connects an api_key, basic or client credentials
// integration from what the user typed: check the values, exchange client
// credentials, then test and store (see finishConnect).
func (s *Server) connectWithValues(ctx context.Context, in *manifest.Integration, projectID, userID string, payload map[string]any, reconnectID string) (*connection.Connection, *connectFailure) {
	if in.Auth.Type == manifest.AuthOAuth2 {
		return nil, &connectFailure{status: http.StatusBadRequest, code: CodeUseConnectFlow, message: in.Name + " connects with OAuth: send the user through the connect flow"}
	}
	if reconnectID == "" {
		if f := s.connectionCapFailure(ctx, in, projectID, userID); f != nil {
			return nil, f
		}
	}
	values, errs := checkInputs(in, payload)
	if len(errs) > 0 {
		return nil, &connectFailure{status: http.StatusBadRequest, code: CodeInvalidInput, message: errs[0].Field + ": " + errs[0].Message, fields: errs}
	}
	inputs := map[string]string{}
	for k, v := range values {
		if k != fieldClientID && k != fieldClientSecret {
			inputs[k] = v
		}
	}
	conn := &connection.Connection{ProjectID: projectID, UserID: userID, IntegrationID: in.ID, Status: connection.StatusValid, Credential: connection.Credential{Inputs: inputs}}
	if in.Auth.Type == manifest.AuthClientCredentials {
		tok, err := s.oauth.ClientCredentials(ctx, in, values[fieldClientID], values[fieldClientSecret], inputs)
		if err != nil {
			var pe *oauth.ProviderError
			if errors.As(err, &pe) {
				return nil, &connectFailure{status: http.StatusBadRequest, code: CodeTokenExchange, message: in.Name + " refused the client credentials: " + pe.Error(),
					provider: &providerAnswer{Status: pe.Status, Body: pe.Description}}
			}
			return nil, s.outboundFailure(in, "client credentials exchange", err)
		}
		cred, exp := oauth.FromToken(tok, inputs, true)
		cred.ClientID, cred.ClientSecret = values[fieldClientID], values[fieldClientSecret]
		conn.Credential, conn.ExpiresAt = cred, exp
	}
	return s.finishConnect(ctx, in, conn, reconnectID)
}

// outboundFailure is what the user is told when a call to the provider
// failed without an answer from it: never the dial or DNS error itself
// (addresses, resolver messages), which goes to the log.
func (s *Server) outboundFailure(in *manifest.Integration, what string, err error) *connectFailure {
	switch {
	case egress.IsRefused(err):
		// The guard has logged the refused address.
		return &connectFailure{status: http.StatusBadGateway, code: CodeEgressRefused, message: egressRefusedSentence(in)}
	case errors.Is(err, oauth.ErrRedirect):
		s.log.Warn(what+" failed: the endpoint answered with a redirect, which is not followed", "integration", in.ID, "error", err.Error())
		return &connectFailure{status: http.StatusBadGateway, code: CodeTokenExchange,
			message: in.Name + "'s token endpoint answered with a redirect, which the gateway does not follow. The integration's setup must be fixed; contact the app's support."}
	}
	s.log.Warn(what+" failed", "integration", in.ID, "error", err.Error())
	return &connectFailure{status: http.StatusBadGateway, code: CodeTokenExchange, message: fmt.Sprintf("Could not get a token from %s; try again.", in.Name)}
}

// egressRefusedSentence tells end users that the gateway may not connect
// where the provider's address points, without the address.
func egressRefusedSentence(in *manifest.Integration) string {
	return in.Name + " cannot be reached from this gateway: its address is in a private or reserved network the gateway is not allowed to connect to. " +
		"If you typed a subdomain or region, check it; otherwise contact the app's support."
}

// finishConnect calls the integration's test endpoint with the new
// credential and stores it only if that succeeded. With reconnectID, the
// existing connection keeps its id and takes the new credential.
func (s *Server) finishConnect(ctx context.Context, in *manifest.Integration, conn *connection.Connection, reconnectID string) (*connection.Connection, *connectFailure) {
	res, err := s.proxy.Test(ctx, in, conn)
	if err != nil {
		if f := s.outboundFailure(in, "connect: test request", err); f.code == CodeEgressRefused {
			return nil, f
		}
		return nil, &connectFailure{status: http.StatusBadGateway, code: CodeCredentialTest, message: fmt.Sprintf("Could not reach %s to check the credential; try again.", in.Name)}
	}
	if res != nil && !res.OK() {
		return nil, &connectFailure{status: http.StatusBadRequest, code: CodeCredentialTest,
			message:  fmt.Sprintf("%s refused the credential.", in.Name),
			provider: &providerAnswer{Status: res.Status, Body: res.Excerpt}}
	}
	if reconnectID == "" {
		if f := s.connectionCapFailure(ctx, in, conn.ProjectID, conn.UserID); f != nil {
			return nil, f
		}
	}
	stored, err := s.saveConnection(ctx, conn, reconnectID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &connectFailure{status: http.StatusNotFound, code: CodeCredentialMissing, message: "the connection to reconnect no longer exists"}
		}
		s.log.Error("storing a connection failed", "integration", in.ID, "error", err.Error())
		return nil, &connectFailure{status: http.StatusServiceUnavailable, code: CodeStoreUnavailable, message: "could not store the connection; try again"}
	}
	s.creds.Forget(stored.ProjectID, stored.UserID, stored.IntegrationID)
	s.log.Info("connected", "integration", in.ID, "connection", stored.ID, "reconnect", reconnectID != "")
	return stored, nil
}

func (s *Server) saveConnection(ctx context.Context, conn *connection.Connection, reconnectID string) (*connection.Connection, error) {
	if reconnectID == "" {
		return conn, s.store.Create(ctx, conn)
	}
	old, err := s.store.Get(ctx, conn.ProjectID, conn.UserID, reconnectID)
	if err != nil {
		return nil, err
	}
	if old.IntegrationID != conn.IntegrationID {
		return nil, store.ErrNotFound
	}
	old.Credential, old.ExpiresAt, old.Status, old.LastError = conn.Credential, conn.ExpiresAt, connection.StatusValid, ""
	return old, s.store.Update(ctx, old)
}

// TestConnection calls the integration's test endpoint with the user's
// default connection (refreshed first if needed), as `plugboard try` does.
func (s *Server) TestConnection(ctx context.Context, projectID, userID, integrationID string) (*proxy.TestResult, error) {
	in, ok := s.reloader.Catalog().Lookup(integrationID)
	if !ok {
		return nil, fmt.Errorf("no integration %q", integrationID)
	}
	s.creds.Forget(projectID, userID, integrationID)
	conn, err := s.creds.Default(ctx, projectID, userID, integrationID)
	if err != nil {
		return nil, err
	}
	if conn, err = s.creds.Fresh(ctx, in, conn, ""); err != nil {
		return nil, err
	}
	res, err := s.proxy.Test(ctx, in, conn)
	if err == nil && res == nil {
		return nil, fmt.Errorf("%s declares no api.testEndpoint", in.Name)
	}
	return res, err
}
