package proxy

import (
	"bytes"
	"io"
	"net/http"

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
// replay uses to send it again.
func keepForReplay(r *http.Request) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return nil
}
