// Package oauth talks to providers' token endpoints: refresh grants and
// client credentials exchanges, on golang.org/x/oauth2, configured from a
// manifest.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/manifest"
)

// AssumedLifetime is used for an access token whose response has no
// expires_in, when it can be renewed without the user (client credentials).
const AssumedLifetime = time.Hour

// ErrNoRefreshToken: the token expired and there is nothing to renew it
// with. It matches connection.ErrNeedsReconnect.
var ErrNoRefreshToken error = noRefreshToken{}

type noRefreshToken struct{}

func (noRefreshToken) Error() string {
	return "the access token expired and the provider gave no refresh token; the user must reconnect"
}
func (noRefreshToken) Is(target error) bool { return target == connection.ErrNeedsReconnect }

// ProviderError is a token endpoint's refusal, with the OAuth error code.
// Its message never includes a token or a client secret.
type ProviderError struct {
	Status      int
	Code        string // e.g. invalid_grant
	Description string
	// Body is the start of the answer's body (at most 300 bytes), for the
	// operator's eyes only (`plugboard try`): Error leaves it out, so it
	// reaches neither logs nor end users.
	Body string
}

func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("token endpoint answered %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Permanent reports whether the provider refused the credential for good,
// so the user must reconnect (RFC 6749 §5.2).
func (e *ProviderError) Permanent() bool {
	return e.Code == "invalid_grant" || e.Code == "invalid_client" || e.Code == "unauthorized_client"
}

// Is makes a permanent refusal match connection.ErrNeedsReconnect.
func (e *ProviderError) Is(target error) bool {
	return target == connection.ErrNeedsReconnect && e.Permanent()
}

// NeedsReconnect reports whether err means the connection cannot recover
// without the user.
func NeedsReconnect(err error) bool { return errors.Is(err, connection.ErrNeedsReconnect) }

func providerError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		pe := &ProviderError{Code: re.ErrorCode, Description: re.ErrorDescription}
		if re.Response != nil {
			pe.Status = re.Response.StatusCode
		}
		if len(pe.Description) > 300 {
			pe.Description = pe.Description[:300]
		}
		pe.Body = string(re.Body[:min(len(re.Body), 300)])
		return pe
	}
	return err
}

// Client holds what token requests need beyond the manifest.
type Client struct {
	// HTTP calls token and revocation endpoints; build it with
	// NewHTTPClient. Whatever it is, redirects are never followed. nil is
	// NewHTTPClient(nil, DefaultTimeout): the egress guard's default policy.
	HTTP *http.Client
}

// DefaultTimeout bounds one token or revocation request.
const DefaultTimeout = 30 * time.Second

// ErrRedirect is returned when a token or revocation endpoint answers with
// a redirect: following it would send the client secret, the code and the
// PKCE verifier (or the token) to wherever the answer points.
var ErrRedirect = errors.New("the endpoint answered with a redirect, which OAuth calls never follow")

// RedirectError is a refused redirect; Location is for logs.
type RedirectError struct {
	Status   int
	Location string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("the endpoint answered %d with a redirect to %s; OAuth calls never follow redirects", e.Status, e.Location)
}

// Is lets errors.Is(err, ErrRedirect) match.
func (e *RedirectError) Is(target error) bool { return target == ErrRedirect }

func refuseRedirect(req *http.Request, _ []*http.Request) error {
	re := &RedirectError{Location: req.URL.Redacted()}
	if req.Response != nil {
		re.Status = req.Response.StatusCode
	}
	return re
}

// NewHTTPClient returns the client for token and revocation endpoints:
// dialling through guard (nil: its default policy), no environment proxy,
// no redirects.
func NewHTTPClient(guard *egress.Guard, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{Transport: guard.NewTransport(), Timeout: timeout, CheckRedirect: refuseRedirect}
}

var defaultHTTP = sync.OnceValue(func() *http.Client { return NewHTTPClient(nil, DefaultTimeout) })

// http returns the client to use, with redirects refused whatever it says,
// and calls traced within traced requests.
func (c Client) http() *http.Client {
	base := c.HTTP
	if base == nil {
		base = defaultHTTP()
	}
	hc := *base
	hc.CheckRedirect = refuseRedirect
	hc.Transport = tracedTransport{next: transportOf(base)}
	return &hc
}

// ctx carries the HTTP client to golang.org/x/oauth2 (which would use
// http.DefaultClient without it), the integration to the egress guard,
// and the call to tracedTransport; endpoint is the token URL's template.
func (c Client) ctx(ctx context.Context, in *manifest.Integration, endpoint *manifest.Template) context.Context {
	ctx = withCall(egress.WithIntegration(ctx, in.ID), spanToken, in, endpoint)
	return context.WithValue(ctx, oauth2.HTTPClient, c.http())
}

func authStyle(s manifest.TokenAuthStyle) oauth2.AuthStyle {
	if s == manifest.TokenAuthBody {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// Refresh renews a credential: a refresh grant for oauth2, a new exchange
// for client credentials. The result keeps the old refresh token when the
// provider did not rotate it.
func (c Client) Refresh(ctx context.Context, in *manifest.Integration, cred connection.Credential) (connection.Credential, time.Time, error) {
	switch in.Auth.Type {
	case manifest.AuthOAuth2:
		if cred.RefreshToken == "" {
			return cred, time.Time{}, ErrNoRefreshToken
		}
		conf, err := c.authCodeConfig(in, cred.Inputs)
		if err != nil {
			return cred, time.Time{}, err
		}
		tok, err := conf.TokenSource(c.ctx(ctx, in, in.Auth.OAuth2.TokenURL), &oauth2.Token{RefreshToken: cred.RefreshToken}).Token()
		if err != nil {
			return cred, time.Time{}, providerError(err)
		}
		next, exp := merge(cred, tok, false)
		return next, exp, nil
	case manifest.AuthClientCredentials:
		tok, err := c.ClientCredentials(ctx, in, cred.ClientID, cred.ClientSecret, cred.Inputs)
		if err != nil {
			return cred, time.Time{}, err
		}
		next, exp := merge(cred, tok, true)
		return next, exp, nil
	}
	return cred, time.Time{}, fmt.Errorf("%s integrations have no token to refresh", in.Auth.Type)
}

// ClientCredentials exchanges a client id and secret for a token.
func (c Client) ClientCredentials(ctx context.Context, in *manifest.Integration, clientID, clientSecret string, inputs map[string]string) (*oauth2.Token, error) {
	cc := in.Auth.ClientCredentials
	if cc == nil {
		return nil, fmt.Errorf("%s is not a client credentials integration", in.ID)
	}
	vars := manifest.Vars{Inputs: inputs}
	tokenURL, err := cc.TokenURL.Render(vars)
	if err != nil {
		return nil, fmt.Errorf("token URL: %w", err)
	}
	params, err := renderParams(cc.TokenParams, vars)
	if err != nil {
		return nil, err
	}
	if len(cc.Scopes) > 0 {
		params.Set("scope", strings.Join(cc.Scopes, cc.ScopeSeparator))
	}
	conf := clientcredentials.Config{
		ClientID: clientID, ClientSecret: clientSecret, TokenURL: tokenURL,
		EndpointParams: params, AuthStyle: authStyle(cc.TokenAuthStyle),
	}
	tok, err := conf.Token(c.ctx(ctx, in, cc.TokenURL))
	if err != nil {
		return nil, providerError(err)
	}
	return tok, nil
}

// authCodeConfig renders an oauth2.Config for the authorization code flow.
func (c Client) authCodeConfig(in *manifest.Integration, inputs map[string]string) (*oauth2.Config, error) {
	o := in.Auth.OAuth2
	vars := manifest.Vars{Inputs: inputs}
	authURL, err := o.AuthorizationURL.Render(vars)
	if err != nil {
		return nil, fmt.Errorf("authorization URL: %w", err)
	}
	tokenURL, err := o.TokenURL.Render(vars)
	if err != nil {
		return nil, fmt.Errorf("token URL: %w", err)
	}
	clientID, err := o.ClientID.Render(vars)
	if err != nil {
		return nil, fmt.Errorf("client id: %w", err)
	}
	secret, ok := o.ClientSecret.Value()
	if !ok {
		return nil, fmt.Errorf("client secret: %s is not set", o.ClientSecret.Source())
	}
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: secret,
		Endpoint: oauth2.Endpoint{AuthURL: authURL, TokenURL: tokenURL, AuthStyle: authStyle(o.TokenAuthStyle)},
	}, nil
}

func renderParams(params map[string]manifest.Value, vars manifest.Vars) (url.Values, error) {
	out := url.Values{}
	for name, v := range params {
		s, err := v.Render(vars)
		if err != nil {
			return nil, fmt.Errorf("token parameter %s: %w", name, err)
		}
		out.Set(name, s)
	}
	return out, nil
}

// merge folds a token response into a stored credential.
func merge(prev connection.Credential, tok *oauth2.Token, assumeLifetime bool) (connection.Credential, time.Time) {
	next := prev
	next.AccessToken = tok.AccessToken
	next.TokenType = tok.TokenType
	if tok.RefreshToken != "" && tok.RefreshToken != prev.RefreshToken {
		// A new refresh token brings its own lifetime, or none. (x/oauth2
		// hands back the old one when the answer had none.)
		next.RefreshToken = tok.RefreshToken
		next.RefreshExpiresAt = time.Time{}
		if secs, ok := seconds(tok.Extra("refresh_token_expires_in")); ok {
			next.RefreshExpiresAt = time.Now().Add(time.Duration(secs) * time.Second)
		}
	}
	exp := tok.Expiry
	if exp.IsZero() && assumeLifetime {
		exp = time.Now().Add(AssumedLifetime)
	}
	return next, exp
}

// FromToken makes a new credential from a token response.
func FromToken(tok *oauth2.Token, inputs map[string]string, assumeLifetime bool) (connection.Credential, time.Time) {
	return merge(connection.Credential{Inputs: inputs}, tok, assumeLifetime)
}

// seconds reads a token response's number of seconds, which providers send
// as a JSON number or a string; ok is false for anything else or a value
// that is not positive.
func seconds(v any) (int64, bool) {
	var n int64
	switch x := v.(type) {
	case float64:
		n = int64(x)
	case int64:
		n = x
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return 0, false
		}
		n = i
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, false
		}
		n = i
	default:
		return 0, false
	}
	return n, n > 0
}
