package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/manifest"
)

// The errors of the pipeline. Each says where it came from; apiError
// alone decides what the caller is told.

// credentialError: the connection could not be found or refreshed.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return "credential: " + e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// renderError: the upstream URL or the credential could not be rendered
// from the connection (a *PathError when the URL leaves the API's base).
type renderError struct{ err error }

func (e *renderError) Error() string { return e.err.Error() }
func (e *renderError) Unwrap() error { return e.err }

// sendError: an attempt at host got no answer.
type sendError struct {
	host string
	err  error
}

func (e *sendError) Error() string { return e.host + ": " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

func (h *Handler) writeError(w http.ResponseWriter, ctx context.Context, in *manifest.Integration, err error) {
	if e := h.apiError(ctx, in, err); e != nil {
		apierror.Write(w, e)
	}
}

// apiError is what the caller is told about err in a call to in; nil when
// the caller went away (nobody to answer).
func (h *Handler) apiError(ctx context.Context, in *manifest.Integration, err error) *apierror.Error {
	var (
		ae   *apierror.Error
		ce   *credentialError
		pe   *PathError
		re   *renderError
		te   *timeoutError
		mbe  *http.MaxBytesError
		send *sendError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ce):
		return h.credentialAPIError(in, ce.err)
	case errors.As(err, &pe):
		return apierror.New(http.StatusBadRequest, apierror.PathRefused, pe.Error())
	case errors.As(err, &re):
		return apierror.New(http.StatusConflict, apierror.ConnectionIncomplete, re.Error())
	case errors.As(err, &te):
		return apierror.New(http.StatusGatewayTimeout, apierror.UpstreamTimeout, fmt.Sprintf("%s did not answer within %s", in.Name, te.after))
	case errors.As(err, &mbe):
		return h.bodyTooLarge()
	case ctx.Err() != nil:
		return nil
	case egress.IsRefused(err):
		// 502, not 403: the caller is not refused anything it could change
		// (and 403 is needs_reconnect); the gateway cannot reach the
		// upstream, by its operator's policy. The guard has logged the address.
		host := ""
		if errors.As(err, &send) {
			host = send.host
		}
		return apierror.New(http.StatusBadGateway, apierror.EgressRefused, EgressRefusedMessage(in, host))
	default:
		h.Log.Debug("upstream unreachable", "integration", in.ID, "error", err.Error())
		return apierror.New(http.StatusBadGateway, apierror.UpstreamUnreachable, fmt.Sprintf("could not reach %s", in.Name))
	}
}

func (h *Handler) credentialAPIError(in *manifest.Integration, err error) *apierror.Error {
	switch {
	case errors.Is(err, connection.ErrNotConnected):
		return apierror.New(http.StatusNotFound, apierror.NotConnected, fmt.Sprintf("the user has not connected %s", in.Name))
	case errors.Is(err, connection.ErrNeedsReconnect):
		return apierror.New(http.StatusForbidden, apierror.NeedsReconnect, fmt.Sprintf("%s no longer accepts this connection; the user must reconnect", in.Name))
	case egress.IsRefused(err):
		return apierror.New(http.StatusBadGateway, apierror.EgressRefused, EgressRefusedMessage(in, ""))
	default:
		h.Log.Warn("credential unavailable", "integration", in.ID, "error", err.Error())
		return apierror.New(http.StatusBadGateway, apierror.RefreshFailed, fmt.Sprintf("could not refresh the %s token; try again", in.Name))
	}
}
