package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/manifest"
)

// DefaultMaxBodyBytes is Handler.MaxBodyBytes's default.
const DefaultMaxBodyBytes = 10 << 20

// ProxyURLHeader names the full upstream URL instead of the path, as in the
// hosted product's API. It must stay on the integration's scheme and host,
// under its base URL's path (at a segment boundary), and its path passes the
// same checks as a proxied path.
const ProxyURLHeader = "X-Paragon-Proxy-Url"

// RawResponseHeader asks for the upstream body as is, not wrapped in
// {"output": …} (binary downloads), as in the hosted product's API.
const RawResponseHeader = "X-Paragon-Use-Raw-Response"

// Credentials finds a user's connection and keeps its token fresh:
// *connection.Refresher. Errors match connection.ErrNotConnected and
// connection.ErrNeedsReconnect.
type Credentials interface {
	// Default returns the user's default connection for the integration.
	Default(ctx context.Context, projectID, userID, integrationID string) (*connection.Connection, error)
	// Fresh returns conn with a token that is not (nearly) expired; when
	// stale is conn's access token, that token is refreshed in any case.
	Fresh(ctx context.Context, in *manifest.Integration, conn *connection.Connection, stale string) (*connection.Connection, error)
	// Retry401 reports whether an upstream 401 to a request made with conn
	// may be answered by a refresh and a replay (the forced-refresh cooldown).
	Retry401(ctx context.Context, conn *connection.Connection) bool
}

// Request is one proxied call, already authenticated by the gateway.
type Request struct {
	ProjectID   string
	UserID      string
	Integration *manifest.Integration
	Path        string // escaped API path as sent, e.g. /users/me
}

// Handler forwards requests to integrations' APIs: plan checks what the
// caller sent and finds a fresh connection, forward (forward.go) sends the
// request with the credential and passes the answer on, through Transport
// (by default a Client dialling through the egress guard, client.go).
// Errors come back as values; apiError alone turns them into the
// gateway's answers (errors.go).
type Handler struct {
	Credentials Credentials
	// Egress guards every connection to upstreams; nil is its default
	// policy (special ranges refused). Used when Transport is nil.
	Egress *egress.Guard
	// Transport sends proxied and test requests; default NewTransport(Egress).
	Transport http.RoundTripper
	// MaxBodyBytes caps a request body; larger is 413 body_too_large.
	// Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	Metrics      *metrics.Metrics // nil: no metrics
	Log          *slog.Logger
	UserAgent    string // sent upstream when the caller sends none
	// Usage is told which connection each proxied request uses (its
	// LastUsedAt); nil records nothing.
	Usage *connection.UsageRecorder

	userAgent []string // UserAgent as a header value
}

// Init prepares the handler; call it once before Serve.
func (h *Handler) Init() {
	if h.Transport == nil {
		h.Transport = NewTransport(h.Egress)
	}
	if h.MaxBodyBytes <= 0 {
		h.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if h.Log == nil {
		h.Log = slog.New(slog.DiscardHandler)
	}
	h.userAgent = []string{h.UserAgent}
}

// NewTransport returns the client used for upstream APIs: every
// connection dialled through guard (nil: its default policy), never
// through an environment proxy (the manifest names the host, and a proxy
// would dial on the guard's behalf).
func NewTransport(guard *egress.Guard) *Client {
	return NewClient(guard.DialContext)
}

// plan is what Serve decided about one request, for forward. It is never
// changed: a replay after a refresh is given the new connection beside it.
type plan struct {
	Request
	conn      *connection.Connection // the connection this attempt sends
	dest      destination
	websocket bool     // an accepted websocket upgrade
	raw       bool     // RawResponseHeader: the body is not wrapped
	vary      []string // the gateway's own Vary (CORS), merged with the upstream's
	start     time.Time
}

// Serve proxies one authenticated request.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, req Request) {
	sw := &statusWriter{ResponseWriter: w}
	defer h.countRequest(req.Integration, r.Method, sw)
	p, err := h.plan(w, r, req)
	if err != nil {
		h.writeError(sw, r.Context(), req.Integration, err)
		return
	}
	// Taken out so that respond merges it into the upstream's; an error
	// puts it back.
	if vary := sw.Header()["Vary"]; vary != nil {
		p.vary = vary
		delete(sw.Header(), "Vary")
	}
	h.forward(sw, r, p)
}

// plan checks what the caller sent, in the order its errors are reported,
// and finds a fresh connection. A small body is read into memory for a
// replay (r.Body and r.GetBody are replaced).
func (h *Handler) plan(w http.ResponseWriter, r *http.Request, req Request) (*plan, error) {
	p := &plan{Request: req, start: time.Now(), raw: r.Header.Get(RawResponseHeader) != ""}
	in := req.Integration
	if up, ok := r.Header["Upgrade"]; ok {
		if !isWebsocketUpgrade(r, up) {
			return nil, apierror.New(http.StatusBadRequest, apierror.UpgradeRefused, "the proxy switches protocols only to websocket (a GET with Connection: Upgrade and Upgrade: websocket), for integrations whose manifest sets api.websocket")
		}
		if !in.API.Websocket {
			return nil, apierror.New(http.StatusBadRequest, apierror.UpgradeRefused, in.Name+" does not take websocket connections through the proxy (its manifest does not set api.websocket)")
		}
		p.websocket = true
	}
	rawPath, query := req.Path, r.URL.RawQuery
	if pu := r.Header.Get(ProxyURLHeader); pu != "" {
		u, err := url.Parse(pu)
		// A raw space would reach the request line (url.Parse keeps one in a query).
		if err != nil || !u.IsAbs() || u.Opaque != "" || u.User != nil || u.Fragment != "" || strings.ContainsAny(pu, "# ") {
			return nil, apierror.New(http.StatusBadRequest, apierror.PathRefused, ProxyURLHeader+" must be an absolute URL on the API's host")
		}
		p.dest.absolute, p.dest.underBase, rawPath, query = u, true, u.EscapedPath(), u.RawQuery
	}
	path, err := checkPath(rawPath)
	if err != nil {
		return nil, err
	}
	p.dest.path, p.dest.query = path, query
	if r.ContentLength > h.MaxBodyBytes {
		return nil, h.bodyTooLarge()
	}
	ctx := r.Context()
	chosen := r.Header.Get(connection.CredentialHeader)
	if chosen != "" {
		ctx = connection.WithCredential(ctx, chosen)
	}
	conn, err := h.Credentials.Default(ctx, req.ProjectID, req.UserID, in.ID)
	if chosen != "" && errors.Is(err, connection.ErrNotConnected) {
		return nil, apierror.NoCredential(chosen, in.Name)
	}
	if err == nil {
		conn, err = h.Credentials.Fresh(r.Context(), in, conn, "")
	}
	if err != nil {
		return nil, &credentialError{err}
	}
	p.conn = conn
	h.Usage.Used(conn.ID)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, h.MaxBodyBytes)
		if r.ContentLength >= 0 && r.ContentLength <= replayBodyBytes && usesTokens(in) {
			if err := keepForReplay(r); err != nil {
				return nil, apierror.New(http.StatusBadRequest, apierror.BodyUnreadable, "could not read the request body")
			}
		}
	}
	return p, nil
}

func (h *Handler) bodyTooLarge() *apierror.Error {
	return apierror.New(http.StatusRequestEntityTooLarge, apierror.BodyTooLarge, fmt.Sprintf("request body is larger than the %d bytes allowed", h.MaxBodyBytes))
}

// copyBuffers recycles the buffers bodies are copied with: without it
// every proxied response would allocate 32 KiB.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
