package proxy

import (
	"errors"

	"github.com/plugboardhq/plugboard/gateway/tracing"
	"github.com/plugboardhq/plugboard/manifest"
)

// UpstreamRequestIDHeader is where the caller finds an upstream's own
// X-Request-Id: the gateway's request id takes that name in answers.
const UpstreamRequestIDHeader = "X-Upstream-Request-Id"

// baseURLHidesSecret reports whether in's base URL may put a secret input
// into the path, which spans then leave out.
func baseURLHidesSecret(in *manifest.Integration) bool {
	return tracing.SecretInPath(in, in.API.BaseURL)
}

// failureKind names an attempt's failure for a span's error.type.
func failureKind(err error) string {
	var te *timeoutError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &te):
		return "timeout"
	default:
		return "send"
	}
}
