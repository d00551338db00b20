package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/manifest"
)

// replayBodyBytes: bodies up to this size with a known length are kept in
// memory so that the request can be replayed once after a refresh on an
// upstream 401.
const replayBodyBytes = 64 << 10

// usesTokens reports whether in's credential is a token the gateway can
// refresh.
func usesTokens(in *manifest.Integration) bool {
	return in.Auth.Type == manifest.AuthOAuth2 || in.Auth.Type == manifest.AuthClientCredentials
}

// keepForReplay reads r's body into memory and sets r.GetBody, which
// replayTransport uses to send it again.
func keepForReplay(r *http.Request) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return nil
}

// replayTransport answers an upstream 401 to a token-based integration as
// golang.org/x/oauth2's Transport does: refresh the token the upstream
// refused and send the request again, once. Only when the body can be sent
// again (none, or kept by keepForReplay); otherwise the 401 is passed on
// and the token refreshed in the background, for the next call. A 401
// forces a refresh at most once per connection per cooldown
// (Credentials.Retry401); within it the 401 is passed on.
type replayTransport struct {
	creds Credentials
	next  http.RoundTripper
}

func (t replayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	p := planFrom(req.Context())
	if !usesTokens(p.Integration) || !t.creds.Retry401(req.Context(), p.conn) {
		return resp, nil
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable {
		go t.refreshAfter401(req.Context(), p.Integration, p.conn)
		return resp, nil
	}
	resp.Body.Close()
	fresh, err := t.creds.Fresh(req.Context(), p.Integration, p.conn, p.conn.Credential.AccessToken)
	if err != nil {
		return nil, &credentialError{err}
	}
	again := *p
	again.conn = fresh
	replay := req.WithContext(withPlan(req.Context(), &again))
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if replay.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return t.next.RoundTrip(replay)
}

// refreshAfter401 refreshes in the background, after the answer: reqCtx's
// values (its span, for the refresh's) are kept, its end is not.
func (t replayTransport) refreshAfter401(reqCtx context.Context, in *manifest.Integration, conn *connection.Connection) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), connection.RefreshTimeout)
	defer cancel()
	_, _ = t.creds.Fresh(ctx, in, conn, conn.Credential.AccessToken)
}
