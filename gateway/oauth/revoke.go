package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/manifest"
)

// Revoke asks the provider to revoke a credential's tokens (RFC 7009) when
// the manifest declares a revocation URL; otherwise it does nothing. The
// refresh token is revoked when there is one (which revokes its access
// tokens too), else the access token.
func (c Client) Revoke(ctx context.Context, in *manifest.Integration, cred connection.Credential) error {
	o := in.Auth.OAuth2
	if o == nil || o.RevocationURL == nil {
		return nil
	}
	token, hint := cred.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = cred.AccessToken, "access_token"
	}
	if token == "" {
		return nil
	}
	conf, err := c.authCodeConfig(in, cred.Inputs)
	if err != nil {
		return err
	}
	revURL, err := o.RevocationURL.Render(manifest.Vars{Inputs: cred.Inputs})
	if err != nil {
		return err
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	if o.TokenAuthStyle == manifest.TokenAuthBody {
		form.Set("client_id", conf.ClientID)
		form.Set("client_secret", conf.ClientSecret)
	}
	req, err := http.NewRequestWithContext(withCall(egress.WithIntegration(ctx, in.ID), spanRevoke, in, o.RevocationURL), http.MethodPost, revURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if o.TokenAuthStyle != manifest.TokenAuthBody {
		req.SetBasicAuth(url.QueryEscape(conf.ClientID), url.QueryEscape(conf.ClientSecret))
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("revocation endpoint answered %d", resp.StatusCode)
	}
	return nil
}
