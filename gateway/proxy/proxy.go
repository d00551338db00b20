package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/manifest"
)

// Defaults of the proxy's limits.
const (
	DefaultMaxBodyBytes = 10 << 20 // request body
	// Bodies up to this size with a known length are kept in memory so the
	// request can be replayed once after a refresh on an upstream 401.
	replayBodyBytes = 64 << 10
)

// ProxyURLHeader names the full upstream URL instead of the path, as in the
// hosted product's API. It must stay on the integration's scheme and host,
// under its base URL's path (at a segment boundary), and its path passes the
// same checks as a proxied path.
const ProxyURLHeader = "X-Paragon-Proxy-Url"

// Error codes of the proxy's own refusals (besides path_refused,
// body_too_large, upstream_timeout, upstream_unreachable and the credential
// errors).
const (
	// CodeUpgradeRefused: the request asked to switch protocols (h2c, or
	// websocket for an integration that does not declare it).
	CodeUpgradeRefused = "upgrade_refused"
)

// RawResponseHeader asks for the upstream body as is, not wrapped in
// {"output": …} (binary downloads), as in the hosted product's API.
const RawResponseHeader = "X-Paragon-Use-Raw-Response"

// Request is one proxied call, already authenticated by the gateway.
type Request struct {
	ProjectID   string
	UserID      string
	Integration *manifest.Integration
	Path        string // escaped API path as sent, e.g. /users/me
}

// ErrorWriter writes a gateway-made error (status, stable code, message).
type ErrorWriter func(w http.ResponseWriter, status int, code, message string)

// Handler forwards requests to integrations' APIs.
type Handler struct {
	Credentials *connection.Refresher
	// Egress guards every connection to upstreams; nil is its default
	// policy (special ranges refused). Used when Transport is nil.
	Egress *egress.Guard
	// Transport sends proxied and test requests; default NewTransport(Egress).
	Transport    http.RoundTripper
	MaxBodyBytes int64
	Metrics      *metrics.Metrics
	Log          *slog.Logger
	WriteError   ErrorWriter
	UserAgent    string

	rp *httputil.ReverseProxy
}

// Init prepares the handler; call it once before Serve.
func (h *Handler) Init() {
	if h.Transport == nil {
		h.Transport = NewTransport(h.Egress)
	}
	if h.WriteError == nil {
		h.WriteError = func(w http.ResponseWriter, status int, code, message string) {
			apierror.Write(w, apierror.New(status, apierror.Code(code), message))
		}
	}
	if h.MaxBodyBytes <= 0 {
		h.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h.rp = &httputil.ReverseProxy{
		Rewrite:        h.rewrite,
		Transport:      h.Transport,
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.errorHandler,
		BufferPool:     bufferPool{},
		ErrorLog:       slog.NewLogLogger(h.Log.Handler(), slog.LevelDebug),
	}
}

// NewTransport returns the HTTP transport used for upstream APIs: every
// connection dialled through guard (nil: its default policy), never
// through an environment proxy (the manifest names the host, and a proxy
// would dial on the guard's behalf).
func NewTransport(guard *egress.Guard) *http.Transport {
	t := guard.NewTransport()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return t
}

// call is the per-request state the ReverseProxy hooks read from the context.
type call struct {
	req        Request
	conn       *connection.Connection
	target     *url.URL
	path       string      // checked escaped API path
	query      string      // caller's raw query
	header     http.Header // static headers and the credential, to set upstream
	raw        bool
	absolute   *url.URL    // from ProxyURLHeader or an absolute test endpoint: the path is from the host's root
	underBase  bool        // absolute must stay under the base URL's path (ProxyURLHeader)
	websocket  bool        // an accepted websocket upgrade
	gwHeader   http.Header // the gateway's own response headers (CORS), merged with the upstream's
	body       []byte      // kept for a replay, when small enough
	replayable bool
	retried    bool
	start      time.Time
	sent       time.Time
	timer      *time.Timer
	status     int
}

type callKey struct{}

var (
	errUpstreamTimeout = errors.New("upstream timeout")
	errRetry           = errors.New("retry after refresh")
)

// Serve proxies one authenticated request.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, req Request) {
	c := &call{req: req, start: time.Now(), raw: r.Header.Get(RawResponseHeader) != "", gwHeader: w.Header()}
	defer func() { h.observe(c, r.Method) }()
	if up, ok := r.Header["Upgrade"]; ok {
		if !isWebsocketUpgrade(r, up) {
			h.fail(w, c, http.StatusBadRequest, CodeUpgradeRefused, "the proxy switches protocols only to websocket (a GET with Connection: Upgrade and Upgrade: websocket), for integrations whose manifest sets api.websocket")
			return
		}
		if !req.Integration.API.Websocket {
			h.fail(w, c, http.StatusBadRequest, CodeUpgradeRefused, req.Integration.Name+" does not take websocket connections through the proxy (its manifest does not set api.websocket)")
			return
		}
		c.websocket = true
	}
	rawPath, query := req.Path, r.URL.RawQuery
	if pu := r.Header.Get(ProxyURLHeader); pu != "" {
		u, err := url.Parse(pu)
		if err != nil || !u.IsAbs() || u.Opaque != "" || u.User != nil || u.Fragment != "" || strings.Contains(pu, "#") {
			h.fail(w, c, http.StatusBadRequest, "path_refused", ProxyURLHeader+" must be an absolute URL on the API's host")
			return
		}
		c.absolute, c.underBase, rawPath, query = u, true, u.EscapedPath(), u.RawQuery
	}
	path, err := checkPath(rawPath)
	if err != nil {
		h.fail(w, c, http.StatusBadRequest, "path_refused", err.Error())
		return
	}
	if r.ContentLength > h.MaxBodyBytes {
		h.fail(w, c, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than the %d bytes allowed", h.MaxBodyBytes))
		return
	}
	conn, err := h.Credentials.Default(r.Context(), req.ProjectID, req.UserID, req.Integration.ID)
	if err == nil {
		conn, err = h.Credentials.Fresh(r.Context(), req.Integration, conn, "")
	}
	if err != nil {
		h.credentialError(w, c, err)
		return
	}
	if err := h.prepare(c, conn, path, query); err != nil {
		var pe *PathError
		if errors.As(err, &pe) {
			h.fail(w, c, http.StatusBadRequest, "path_refused", err.Error())
			return
		}
		h.fail(w, c, http.StatusConflict, "connection_incomplete", err.Error())
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, h.MaxBodyBytes)
		if r.ContentLength >= 0 && r.ContentLength <= replayBodyBytes && usesTokens(req.Integration) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				h.fail(w, c, http.StatusBadRequest, "body_unreadable", "could not read the request body")
				return
			}
			c.body, c.replayable = b, true
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
	} else {
		c.replayable = true
	}
	h.forward(w, r, c)
}

// isWebsocketUpgrade reports whether r asks for exactly a websocket
// upgrade (RFC 6455: a GET with Connection: Upgrade and Upgrade: websocket).
func isWebsocketUpgrade(r *http.Request, upgrade []string) bool {
	if r.Method != http.MethodGet || len(upgrade) != 1 || !strings.EqualFold(strings.TrimSpace(upgrade[0]), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

func usesTokens(in *manifest.Integration) bool {
	return in.Auth.Type == manifest.AuthOAuth2 || in.Auth.Type == manifest.AuthClientCredentials
}

func (h *Handler) forward(w http.ResponseWriter, r *http.Request, c *call) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	c.timer = time.AfterFunc(c.req.Integration.API.Timeout, func() { cancel(errUpstreamTimeout) })
	defer c.timer.Stop()
	h.rp.ServeHTTP(w, r.WithContext(context.WithValue(ctx, callKey{}, c)))
}

// prepare renders where the request goes and what it carries.
func (h *Handler) prepare(c *call, conn *connection.Connection, path, query string) error {
	in := c.req.Integration
	vars := manifest.Vars{Inputs: conn.Credential.Inputs, Credential: map[string]string{
		"access_token": conn.Credential.AccessToken, "token_type": conn.Credential.TokenType,
		"client_id": conn.Credential.ClientID, "client_secret": conn.Credential.ClientSecret,
	}}
	base, err := in.API.BaseURL.Render(vars)
	if err != nil {
		return fmt.Errorf("base URL: %v", err)
	}
	baseURL, err := url.Parse(base)
	if err != nil {
		return errors.New("base URL does not parse once rendered")
	}
	if a := c.absolute; a != nil {
		if !strings.EqualFold(a.Scheme, baseURL.Scheme) || !strings.EqualFold(a.Host, baseURL.Host) {
			return &PathError{Reason: ProxyURLHeader + " must stay on " + baseURL.Scheme + "://" + baseURL.Host}
		}
		if c.underBase && !underPath(a.EscapedPath(), baseURL.EscapedPath()) {
			return &PathError{Reason: ProxyURLHeader + " must stay under the API's base URL " + baseURL.Scheme + "://" + baseURL.Host + baseURL.EscapedPath()}
		}
		baseURL.Path, baseURL.RawPath, baseURL.RawQuery = "", "", ""
	}
	target, err := join(baseURL, path, query)
	if err != nil {
		return err
	}
	hdr := http.Header{}
	for _, sh := range in.API.Headers {
		v, err := sh.Value.Render(vars)
		if err != nil {
			return fmt.Errorf("header %s: %v", sh.Name, err)
		}
		hdr.Set(sh.Name, v)
	}
	a := in.API.Authorization
	switch a.Type {
	case manifest.AuthorizeBearer, manifest.AuthorizeHeader, manifest.AuthorizeQuery:
		v, err := a.Value.Render(vars)
		if err != nil {
			return fmt.Errorf("authorization: %v", err)
		}
		switch a.Type {
		case manifest.AuthorizeBearer:
			hdr.Set("Authorization", "Bearer "+v)
		case manifest.AuthorizeHeader:
			hdr.Set(a.Name, v)
		default:
			q := target.Query()
			q.Set(a.Name, v)
			target.RawQuery = q.Encode()
		}
	case manifest.AuthorizeBasic:
		u, err := a.Username.Render(vars)
		if err != nil {
			return fmt.Errorf("authorization: %v", err)
		}
		p, err := a.Password.Render(vars)
		if err != nil {
			return fmt.Errorf("authorization: %v", err)
		}
		hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
	}
	c.conn, c.target, c.header, c.path, c.query = conn, target, hdr, path, query
	return nil
}

func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	c := pr.In.Context().Value(callKey{}).(*call)
	out := pr.Out
	filterRequestHeaders(out.Header, c.websocket)
	if !c.websocket {
		// Serve refused any other upgrade; never ask for one upstream.
		out.Header.Del("Upgrade")
		out.Header.Del("Connection")
	}
	if ct := out.Header.Get("Content-Type"); strings.EqualFold(ct, "auto") {
		// The SDK sends "Content-Type: auto" and JSON-encodes object bodies.
		if out.ContentLength != 0 && out.Body != nil && out.Body != http.NoBody {
			out.Header.Set("Content-Type", "application/json")
		} else {
			out.Header.Del("Content-Type")
		}
	}
	if !c.raw {
		// Let the transport negotiate and undo compression, so JSON can be wrapped.
		out.Header.Del("Accept-Encoding")
	}
	if out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", h.UserAgent)
	}
	for name, vals := range c.header {
		out.Header[name] = vals
	}
	out.URL = c.target
	out.Host = c.target.Host
	if c.body != nil {
		out.Body = io.NopCloser(bytes.NewReader(c.body))
		out.ContentLength = int64(len(c.body))
	}
	c.sent = time.Now()
}

func (h *Handler) modifyResponse(resp *http.Response) error {
	c := resp.Request.Context().Value(callKey{}).(*call)
	c.timer.Stop()
	in := c.req.Integration
	// A 401 forces a refresh, at most once per connection per cooldown
	// (Credentials.ForcedRefreshCooldown); within it the 401 is passed on.
	if resp.StatusCode == http.StatusUnauthorized && usesTokens(in) && !c.retried && h.Credentials.Retry401(resp.Request.Context(), c.conn) {
		if c.replayable {
			resp.Body.Close()
			return errRetry
		}
		// Not replayable: pass the 401 on, but refresh before the next call.
		go h.refreshAfter401(c)
	}
	if h.Metrics != nil {
		upstream := time.Since(c.sent)
		h.Metrics.ProxyUpstream.WithLabelValues(in.ID).Observe(upstream.Seconds())
		h.Metrics.ProxyOverhead.WithLabelValues(in.ID).Observe((time.Since(c.start) - upstream).Seconds())
	}
	filterResponseHeaders(resp.Header, c.gwHeader)
	c.status = resp.StatusCode
	if !c.raw && wrappable(resp) {
		resp.Body = newOutputWrapper(resp.Body)
		// A known length stays known (no chunking, no flush per write).
		if resp.ContentLength > 0 {
			resp.ContentLength += int64(wrapOverhead)
			resp.Header.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
		} else {
			resp.ContentLength = -1
			resp.Header.Del("Content-Length")
		}
	}
	return nil
}

func (h *Handler) refreshAfter401(c *call) {
	ctx, cancel := context.WithTimeout(context.Background(), connection.RefreshTimeout)
	defer cancel()
	_, _ = h.Credentials.Fresh(ctx, c.req.Integration, c.conn, c.conn.Credential.AccessToken)
}

// wrappable reports whether the body is JSON the gateway wraps as
// {"output": …}: successful JSON answers. Error answers pass through as
// they are, so the SDK's Error carries the API's own message.
func wrappable(resp *http.Response) bool {
	if resp.StatusCode < 200 || resp.StatusCode > 299 || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified || resp.Request.Method == http.MethodHead || resp.ContentLength == 0 {
		return false
	}
	if resp.Header.Get("Content-Encoding") != "" && !strings.EqualFold(resp.Header.Get("Content-Encoding"), "identity") {
		return false
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "application/json" || strings.HasPrefix(ct, "application/json;") {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func (h *Handler) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	c := r.Context().Value(callKey{}).(*call)
	cause := context.Cause(r.Context())
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errRetry):
		h.retry(w, r, c)
	case errors.Is(cause, errUpstreamTimeout):
		h.fail(w, c, http.StatusGatewayTimeout, "upstream_timeout", fmt.Sprintf("%s did not answer within %s", c.req.Integration.Name, c.req.Integration.API.Timeout))
	case errors.As(err, &mbe):
		h.fail(w, c, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than the %d bytes allowed", h.MaxBodyBytes))
	case r.Context().Err() != nil:
		c.status = 499 // the caller went away; nobody to answer
	case egress.IsRefused(err):
		// 502, not 403: the caller is not refused anything it could change
		// (and 403 is needs_reconnect); the gateway cannot reach the
		// upstream, by its operator's policy. The guard has logged the address.
		h.fail(w, c, http.StatusBadGateway, CodeEgressRefused, EgressRefusedMessage(c.req.Integration, c.target.Hostname()))
	default:
		h.Log.Debug("upstream unreachable", "integration", c.req.Integration.ID, "error", err.Error())
		h.fail(w, c, http.StatusBadGateway, "upstream_unreachable", fmt.Sprintf("could not reach %s", c.req.Integration.Name))
	}
}

// retry sends the request again, once, after refreshing the token the
// upstream refused.
func (h *Handler) retry(w http.ResponseWriter, r *http.Request, c *call) {
	c.retried = true
	conn, err := h.Credentials.Fresh(r.Context(), c.req.Integration, c.conn, c.conn.Credential.AccessToken)
	if err != nil {
		h.credentialError(w, c, err)
		return
	}
	if err := h.prepare(c, conn, c.path, c.query); err != nil {
		h.fail(w, c, http.StatusConflict, "connection_incomplete", err.Error())
		return
	}
	c.timer.Reset(c.req.Integration.API.Timeout)
	h.rp.ServeHTTP(w, r)
}

func (h *Handler) credentialError(w http.ResponseWriter, c *call, err error) {
	switch {
	case errors.Is(err, connection.ErrNotConnected):
		h.fail(w, c, http.StatusNotFound, "not_connected", fmt.Sprintf("the user has not connected %s", c.req.Integration.Name))
	case errors.Is(err, connection.ErrNeedsReconnect):
		h.fail(w, c, http.StatusForbidden, "needs_reconnect", fmt.Sprintf("%s no longer accepts this connection; the user must reconnect", c.req.Integration.Name))
	case egress.IsRefused(err):
		h.fail(w, c, http.StatusBadGateway, CodeEgressRefused, EgressRefusedMessage(c.req.Integration, ""))
	default:
		h.Log.Warn("credential unavailable", "integration", c.req.Integration.ID, "error", err.Error())
		h.fail(w, c, http.StatusBadGateway, "refresh_failed", fmt.Sprintf("could not refresh the %s token; try again", c.req.Integration.Name))
	}
}

func (h *Handler) fail(w http.ResponseWriter, c *call, status int, code, msg string) {
	c.status = status
	h.WriteError(w, status, code, msg)
}

var knownMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

func (h *Handler) observe(c *call, method string) {
	if h.Metrics == nil {
		return
	}
	if !knownMethods[method] {
		method = "OTHER"
	}
	h.Metrics.ProxyRequests.WithLabelValues(c.req.Integration.ID, method, strconv.Itoa(c.status)).Inc()
}

// bufferPool recycles ReverseProxy's copy buffers: without it every
// proxied response allocates 32 KiB.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
