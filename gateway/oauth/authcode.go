package oauth

import (
	"context"
	"strings"

	"golang.org/x/oauth2"

	"github.com/plugboardhq/plugboard/manifest"
)

// AuthCodeURL renders where to send the user to sign in: the manifest's
// authorization URL with client id, redirect URI, state, scopes (joined with
// the manifest's separator), PKCE S256 unless the manifest opts out, and its
// extra parameters. verifier is ignored when PKCE is off.
func (c Client) AuthCodeURL(in *manifest.Integration, inputs map[string]string, redirectURI, state, verifier string) (string, error) {
	conf, err := c.authCodeConfig(in, inputs)
	if err != nil {
		return "", err
	}
	conf.RedirectURL = redirectURI
	o := in.Auth.OAuth2
	opts := []oauth2.AuthCodeOption{}
	if len(o.Scopes) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("scope", strings.Join(o.Scopes, o.ScopeSeparator)))
	}
	if o.PKCE {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	params, err := renderParams(o.AuthorizationParams, manifest.Vars{Inputs: inputs})
	if err != nil {
		return "", err
	}
	for name := range params {
		opts = append(opts, oauth2.SetAuthURLParam(name, params.Get(name)))
	}
	return conf.AuthCodeURL(state, opts...), nil
}

// Exchange redeems an authorization code.
func (c Client) Exchange(ctx context.Context, in *manifest.Integration, inputs map[string]string, redirectURI, code, verifier string) (*oauth2.Token, error) {
	conf, err := c.authCodeConfig(in, inputs)
	if err != nil {
		return nil, err
	}
	conf.RedirectURL = redirectURI
	o := in.Auth.OAuth2
	var opts []oauth2.AuthCodeOption
	if o.PKCE {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	params, err := renderParams(o.TokenParams, manifest.Vars{Inputs: inputs})
	if err != nil {
		return nil, err
	}
	for name := range params {
		opts = append(opts, oauth2.SetAuthURLParam(name, params.Get(name)))
	}
	tok, err := conf.Exchange(c.ctx(ctx, in, in.Auth.OAuth2.TokenURL), code, opts...)
	if err != nil {
		return nil, providerError(err)
	}
	return tok, nil
}
