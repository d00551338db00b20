package connect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/manifest"
)

// ConnectWithValues connects an api_key, basic or client credentials
// integration from what the user typed: check the values, exchange client
// credentials, then test and store (see finishConnect). With reconnectID,
// that connection takes the new credential.
func (f *Flows) ConnectWithValues(ctx context.Context, in *manifest.Integration, projectID, userID string, payload map[string]any, reconnectID string) (*connection.Connection, *apierror.Error) {
	if in.Auth.Type == manifest.AuthOAuth2 {
		return nil, apierror.New(http.StatusBadRequest, apierror.UseConnectFlow, in.Name+" connects with OAuth: send the user through the connect flow (a connect link, or the SDK's installIntegration).")
	}
	if reconnectID == "" {
		if e := f.CapFailure(ctx, in, projectID, userID); e != nil {
			return nil, e
		}
	}
	values, errs := checkInputs(in, payload)
	if len(errs) > 0 {
		e := apierror.New(http.StatusBadRequest, apierror.InvalidInput, fieldsMessage(errs))
		e.Fields = errs
		return nil, e
	}
	inputs := map[string]string{}
	for k, v := range values {
		if k != integration.FieldClientID && k != integration.FieldClientSecret {
			inputs[k] = v
		}
	}
	conn := &connection.Connection{ProjectID: projectID, UserID: userID, IntegrationID: in.ID, Status: connection.StatusValid, Credential: connection.Credential{Inputs: inputs}}
	if in.Auth.Type == manifest.AuthClientCredentials {
		clientID, secret := values[integration.FieldClientID], values[integration.FieldClientSecret]
		tok, err := f.OAuth.ClientCredentials(ctx, in, clientID, secret, inputs)
		if err != nil {
			var pe *oauth.ProviderError
			if errors.As(err, &pe) {
				// The provider's words go in Provider (the pages' Details).
				e := apierror.New(http.StatusBadRequest, apierror.TokenExchange, in.Name+" refused the client credentials. Check them and try again.")
				e.Provider = &apierror.ProviderAnswer{Status: pe.Status, Body: strings.TrimSpace(pe.Code + " " + pe.Description)}
				e.Cause = fmt.Errorf("client credentials exchange: %w", err)
				return nil, f.failed(in, e)
			}
			return nil, f.failed(in, f.outboundFailure(in, "client credentials exchange", err))
		}
		cred, exp := oauth.FromToken(tok, inputs, true)
		cred.ClientID, cred.ClientSecret = clientID, secret
		conn.Credential, conn.ExpiresAt = cred, exp
	}
	return f.finishConnect(ctx, in, conn, reconnectID)
}

// fieldsMessage is an invalid_input message: every field's problem, by
// label, as sentences ("API key is required. Region must be one of: us, eu.").
func fieldsMessage(errs []apierror.FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Message + "."
	}
	return strings.Join(parts, " ")
}

// outboundFailure is what the user is told when a call to the provider
// failed without an answer from it: never the dial or DNS error itself
// (addresses, resolver messages), which goes to the log and to Cause.
func (f *Flows) outboundFailure(in *manifest.Integration, what string, err error) *apierror.Error {
	var e *apierror.Error
	switch {
	case egress.IsRefused(err):
		// The guard has logged the refused address.
		e = apierror.New(http.StatusBadGateway, apierror.EgressRefused, egressRefusedSentence(in))
	case errors.Is(err, oauth.ErrRedirect):
		f.Log.Warn(what+" failed: the endpoint answered with a redirect, which is not followed", "integration", in.ID, "error", err.Error())
		e = apierror.New(http.StatusBadGateway, apierror.TokenExchange,
			in.Name+"'s token endpoint answered with a redirect, which the gateway does not follow. The integration's setup must be fixed; contact the app's support.")
	default:
		f.Log.Warn(what+" failed", "integration", in.ID, "error", err.Error())
		e = apierror.New(http.StatusBadGateway, apierror.TokenExchange, fmt.Sprintf("Could not get a token from %s; try again.", in.Name))
	}
	e.Cause = fmt.Errorf("%s: %w", what, err)
	return e
}

// failed passes a failure at the provider to Failed and returns it.
func (f *Flows) failed(in *manifest.Integration, e *apierror.Error) *apierror.Error {
	if f.Failed != nil {
		f.Failed(in.ID, e)
	}
	return e
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
func (f *Flows) finishConnect(ctx context.Context, in *manifest.Integration, conn *connection.Connection, reconnectID string) (*connection.Connection, *apierror.Error) {
	res, err := f.Tester.Test(ctx, in, conn)
	if err != nil {
		e := f.outboundFailure(in, "connect: test request", err)
		if e.Code != apierror.EgressRefused {
			e.Status, e.Code, e.Message = http.StatusBadGateway, apierror.CredentialTest, fmt.Sprintf("Could not reach %s to check the credential; try again.", in.Name)
		}
		f.testFailed(ctx, conn, reconnectID, e)
		return nil, f.failed(in, e)
	}
	if res != nil && !res.OK() {
		e := apierror.New(http.StatusBadRequest, apierror.CredentialTest, fmt.Sprintf("%s refused the credential.", in.Name))
		e.Provider = &apierror.ProviderAnswer{Status: res.Status, Body: res.Excerpt}
		e.Cause = fmt.Errorf("test request: %s %s answered %d", res.Method, res.Endpoint, res.Status)
		f.testFailed(ctx, conn, reconnectID, e)
		return nil, f.failed(in, e)
	}
	if reconnectID == "" {
		if e := f.CapFailure(ctx, in, conn.ProjectID, conn.UserID); e != nil {
			return nil, e
		}
	}
	stored, err := f.save(ctx, conn, reconnectID)
	if err != nil {
		if errors.Is(err, connection.ErrNotFound) {
			return nil, apierror.New(http.StatusNotFound, apierror.CredentialMissing, "The connection to reconnect no longer exists.")
		}
		f.Log.Error("storing a connection failed", "integration", in.ID, "error", err.Error())
		return nil, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "Could not store the connection; try again.")
	}
	if res != nil && f.Checks != nil {
		if err := f.Checks.RecordCheck(ctx, stored.ID, time.Now(), ""); err != nil {
			f.Log.Warn("recording the connect test as the last health check failed", "connection", stored.ID, "error", err.Error())
		}
	}
	f.Credentials.Forget(stored.ProjectID, stored.UserID, stored.IntegrationID)
	f.changed(stored.ProjectID, stored.UserID)
	f.Log.Info("connected", "integration", in.ID, "connection", stored.ID, "reconnect", reconnectID != "")
	return stored, nil
}

// testFailed tells TestFailed of a failed credential test: what the user
// was told, and the provider's status when it answered.
func (f *Flows) testFailed(ctx context.Context, conn *connection.Connection, reconnectID string, e *apierror.Error) {
	if f.TestFailed == nil {
		return
	}
	c := connection.Connection{ID: reconnectID, ProjectID: conn.ProjectID, UserID: conn.UserID, IntegrationID: conn.IntegrationID}
	why := e.Message
	if e.Provider != nil {
		why = fmt.Sprintf("%s (the test request answered %d)", why, e.Provider.Status)
	}
	f.TestFailed(ctx, c, why)
}

func (f *Flows) save(ctx context.Context, conn *connection.Connection, reconnectID string) (*connection.Connection, error) {
	if reconnectID == "" {
		return conn, f.Connections.Create(ctx, conn)
	}
	old, err := f.Connections.Get(ctx, conn.ProjectID, conn.UserID, reconnectID)
	if err != nil {
		return nil, err
	}
	if old.IntegrationID != conn.IntegrationID {
		return nil, connection.ErrNotFound
	}
	old.Credential, old.ExpiresAt, old.Status, old.LastError = conn.Credential, conn.ExpiresAt, connection.StatusValid, ""
	return old, f.Connections.Update(ctx, old)
}

// Disconnect revokes the credential at the provider (when the manifest
// declares revocation; in may be nil when the integration is no longer
// loaded) and deletes the connection. A failed revocation is logged, not
// returned: the user asked to be disconnected, and is.
func (f *Flows) Disconnect(ctx context.Context, in *manifest.Integration, c *connection.Connection) error {
	if in != nil {
		if err := f.OAuth.Revoke(ctx, in, c.Credential); err != nil {
			f.Log.Info("revocation at the provider failed; deleting anyway", "integration", in.ID, "error", err.Error())
		}
	}
	err := f.Connections.Delete(ctx, c.ProjectID, c.UserID, c.ID)
	f.Credentials.Forget(c.ProjectID, c.UserID, c.IntegrationID)
	f.changed(c.ProjectID, c.UserID)
	return err
}

func (f *Flows) changed(projectID, userID string) {
	if f.Changed != nil {
		f.Changed(projectID, userID)
	}
}

// TestConnection calls the integration's test endpoint with the user's
// default connection (refreshed first if needed), as `plugboard try` does.
func (f *Flows) TestConnection(ctx context.Context, projectID, userID, integrationID string) (*proxy.TestResult, error) {
	in, ok := f.Integrations.Lookup(integrationID)
	if !ok {
		return nil, fmt.Errorf("no integration %q", integrationID)
	}
	f.Credentials.Forget(projectID, userID, in.ID)
	conn, err := f.Credentials.Default(ctx, projectID, userID, in.ID)
	if err != nil {
		return nil, err
	}
	if conn, err = f.Credentials.Fresh(ctx, in, conn, ""); err != nil {
		return nil, err
	}
	res, err := f.Tester.Test(ctx, in, conn)
	if err == nil && res == nil {
		return nil, fmt.Errorf("%s declares no api.testEndpoint", in.Name)
	}
	return res, err
}
