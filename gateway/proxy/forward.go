package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/tracing"
)

// forward sends the planned request upstream, replays it once after a
// refresh when the upstream refuses the token, and passes the answer on.
// It is the whole proxy after plan, in one straight line:
//
//	outgoing  the headers that cross, Content-Type: auto, User-Agent, request id
//	attempt   the credential and URL for one attempt, the access log's and
//	          metrics' upstream time, the client span, api.timeout
//	replay    refresh and send again once on a 401
//	respond   the answer's headers that cross, {"output": …}, the body
//	upgrade   a websocket's 101 and its tunnel
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, p *plan) {
	ctx := r.Context()
	out := h.outgoing(r, p)
	conn := p.conn
	resp, err := h.attempt(ctx, out, p, conn)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		resp, err = h.replay(ctx, out, p, resp)
	}
	if err != nil {
		if p.vary != nil {
			w.Header()["Vary"] = p.vary // Serve took it out for the upstream's
		}
		h.writeError(w, ctx, p.Integration, err)
		return
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		h.upgrade(w, r, resp, p)
		return
	}
	h.respond(w, r, resp, p)
}

// outgoing is the request the upstream receives, but for its URL and
// credential (attempt's): the caller's method, body and the headers that
// cross (headers.go), without hop-by-hop ones.
func (h *Handler) outgoing(r *http.Request, p *plan) *http.Request {
	hdr := make(http.Header, len(r.Header)+len(p.Integration.API.Headers)+3)
	named := connectionTokens(r.Header)
	for k, vv := range r.Header {
		if !forwardsRequestHeader(k, p.websocket) || (named[strings.ToLower(k)] && !(p.websocket && k == "Upgrade")) {
			continue
		}
		hdr[k] = vv
	}
	if p.websocket {
		hdr["Connection"] = []string{"Upgrade"}
	}
	body, length := r.Body, r.ContentLength
	if body == nil || length == 0 {
		body, length = http.NoBody, 0
	}
	if ct := hdr["Content-Type"]; len(ct) == 1 && strings.EqualFold(ct[0], "auto") {
		// The SDK sends "Content-Type: auto" and JSON-encodes object bodies.
		if body != http.NoBody {
			hdr["Content-Type"] = []string{"application/json"}
		} else {
			delete(hdr, "Content-Type")
		}
	}
	if !p.raw {
		// Answers are wrapped as {"output": …}: ask for them uncompressed.
		delete(hdr, "Accept-Encoding")
	}
	if ua := hdr["User-Agent"]; len(ua) == 0 || ua[0] == "" {
		hdr["User-Agent"] = h.userAgent // shared: Header.Set replaces, never writes into it
	}
	// The gateway's request id (the caller's when it was sane), so the
	// upstream's logs can be matched with the gateway's.
	if e := accesslog.From(r.Context()); e != nil {
		e.SetRequestIDHeader(hdr)
	}
	return &http.Request{Method: r.Method, Header: hdr, Body: body, GetBody: r.GetBody, ContentLength: length,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

// connectionTokens are the header names the Connection header lists
// (hop-by-hop by RFC 9110 section 7.6.1), lower-cased; nil for none.
func connectionTokens(h http.Header) map[string]bool {
	vv := h["Connection"]
	if len(vv) == 0 {
		return nil
	}
	var named map[string]bool
	for _, v := range vv {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				if named == nil {
					named = map[string]bool{}
				}
				named[strings.ToLower(tok)] = true
			}
		}
	}
	return named
}

// attempt sends out once with conn's credential, rendered into its URL
// and headers (a replay after a refresh carries the new token), bounded by
// api.timeout up to the answer's headers. It records the upstream's status
// and time for the access log and metrics, and makes the attempt's client
// span in a traced request.
func (h *Handler) attempt(ctx context.Context, out *http.Request, p *plan, conn *connection.Connection) (*http.Response, error) {
	in := p.Integration
	target, err := render(in, conn, p.dest, out.Header)
	if err != nil {
		closeBody(out)
		return nil, &renderError{err}
	}
	out.URL, out.Host = target, target.Host
	ctx = egress.WithIntegration(ctx, in.ID) // for the guard's log of a refused address
	var span trace.Span
	if tracing.Traced(ctx) {
		ctx, span = tracing.StartClient(ctx, out.Method, out.Method, target, baseURLHidesSecret(in), out.Header,
			tracing.IntegrationKey.String(in.ID))
	}
	sent := time.Now()
	var resp *http.Response
	if c, ours := h.Transport.(*Client); ours {
		resp, err = c.send(ctx, out, in.API.Timeout)
	} else {
		resp, err = timedRoundTrip(h.Transport, out.WithContext(ctx), in.API.Timeout)
	}
	took := time.Since(sent)
	if e := accesslog.From(ctx); e != nil {
		if err == nil {
			e.AddUpstream(resp.StatusCode, took)
		} else {
			e.Upstream += took
		}
	}
	if span != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		tracing.EndClient(span, status, err, failureKind(err))
	}
	if err != nil {
		return nil, &sendError{host: target.Hostname(), err: err}
	}
	if h.Metrics != nil {
		times := h.Metrics.ProxyTimesOf(in.ID)
		times.Upstream.Observe(took.Seconds())
		times.Overhead.Observe((time.Since(p.start) - took).Seconds())
	}
	return resp, nil
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

// replay answers an upstream 401 to a token-based integration as
// golang.org/x/oauth2's Transport does: refresh the token the upstream
// refused and send the request again, once. Only when the body can be sent
// again (none, or kept by keepForReplay); otherwise the 401 is passed on
// and the token refreshed in the background, for the next call. A 401
// forces a refresh at most once per connection per cooldown
// (Credentials.Retry401); within it the 401 is passed on.
func (h *Handler) replay(ctx context.Context, out *http.Request, p *plan, resp *http.Response) (*http.Response, error) {
	if !usesTokens(p.Integration) || !h.Credentials.Retry401(ctx, p.conn) {
		return resp, nil
	}
	if out.Body != http.NoBody && out.GetBody == nil {
		go h.refreshAfter401(ctx, p)
		return resp, nil
	}
	resp.Body.Close()
	fresh, err := h.Credentials.Fresh(ctx, p.Integration, p.conn, p.conn.Credential.AccessToken)
	if err != nil {
		return nil, &credentialError{err}
	}
	if out.Body != http.NoBody {
		if out.Body, err = out.GetBody(); err != nil {
			return nil, err
		}
	}
	return h.attempt(ctx, out, p, fresh)
}

// refreshAfter401 refreshes in the background, after the answer: the
// request context's values (its span, for the refresh's) are kept, its end
// is not.
func (h *Handler) refreshAfter401(reqCtx context.Context, p *plan) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), connection.RefreshTimeout)
	defer cancel()
	_, _ = h.Credentials.Fresh(ctx, p.Integration, p.conn, p.conn.Credential.AccessToken)
}

// respondHopHeaders are the answer's hop-by-hop headers, never passed on.
var respondHopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// respond passes the upstream's answer on: the headers that cross
// (headers.go), the gateway's request id in place of the upstream's, and a
// successful JSON body wrapped as {"output": …} unless the caller asked
// for it raw. A body of unknown length is flushed as it comes (streams,
// server-sent events).
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, resp *http.Response, p *plan) {
	defer resp.Body.Close()
	rh := resp.Header
	if named := connectionTokens(rh); named != nil {
		for k := range rh {
			if named[strings.ToLower(k)] {
				delete(rh, k)
			}
		}
	}
	for _, k := range respondHopHeaders {
		delete(rh, k)
	}
	filterResponseHeaders(rh, p.vary)
	// The answer carries the gateway's request id; the upstream's own
	// goes beside it.
	if id, ok := rh[accesslog.RequestIDHeader]; ok {
		delete(rh, accesslog.RequestIDHeader)
		rh[UpstreamRequestIDHeader] = id
	}
	var body io.Reader = resp.Body
	length := resp.ContentLength
	if !p.raw && wrappable(resp) {
		body = newOutputWrapper(resp.Body)
		if length > 0 {
			// A known length stays known (no chunking, no flush per write).
			length += int64(wrapOverhead)
			rh["Content-Length"] = []string{strconv.FormatInt(length, 10)}
		} else {
			length = -1
			delete(rh, "Content-Length")
		}
	}
	dst := w.Header()
	for k, vv := range rh {
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv
		}
	}
	w.WriteHeader(resp.StatusCode)
	flush := length < 0 || strings.HasPrefix(rh.Get("Content-Type"), "text/event-stream")
	if err := copyBody(w, body, flush); err != nil && !errors.Is(err, errClientWrite) {
		// The upstream failed mid-body: the caller must not take a cut
		// answer for a whole one. Under http.Server, abort the response
		// (the connection is closed, or the HTTP/2 stream reset).
		h.Log.Debug("upstream body cut short", "integration", p.Integration.ID, "error", err.Error())
		if r.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

var errClientWrite = errors.New("writing to the caller failed")

// copyBody copies body to w with a pooled buffer, flushing after each
// write when flush is set.
func copyBody(w http.ResponseWriter, body io.Reader, flush bool) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
	}
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errClientWrite
			}
			if rc != nil {
				_ = rc.Flush()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// upgrade passes a websocket's 101 on and joins the caller's connection to
// the upstream's until either side closes it or the request ends.
func (h *Handler) upgrade(w http.ResponseWriter, r *http.Request, resp *http.Response, p *plan) {
	back, ok := resp.Body.(io.ReadWriteCloser)
	if !ok || !p.websocket || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		resp.Body.Close()
		h.writeError(w, r.Context(), p.Integration, &sendError{host: p.Integration.ID,
			err: fmt.Errorf("the upstream switched protocols to %q, not to the websocket asked for", resp.Header.Get("Upgrade"))})
		return
	}
	defer back.Close()
	rh := resp.Header
	filterResponseHeaders(rh, p.vary)
	if id, ok := rh[accesslog.RequestIDHeader]; ok {
		delete(rh, accesslog.RequestIDHeader)
		rh[UpstreamRequestIDHeader] = id
	}
	dst := w.Header()
	for k, vv := range rh {
		dst[k] = vv
	}
	front, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.writeError(w, r.Context(), p.Integration, &sendError{host: p.Integration.ID, err: fmt.Errorf("the caller's connection cannot be taken over: %w", err)})
		return
	}
	defer func() { _ = front.Close() }()
	if _, err := brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n"); err != nil {
		return
	}
	if err := dst.Write(brw); err != nil {
		return
	}
	if _, err := brw.WriteString("\r\n"); err != nil || brw.Flush() != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(back, brw.Reader) // what the caller sent after its head, then the rest
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(front, back)
		done <- struct{}{}
	}()
	select {
	case <-done:
	case <-r.Context().Done():
	}
}

// timedRoundTrip bounds an attempt through a transport other than Client by
// after, up to its answer's headers: the body may then take as long as it
// needs, and the attempt's context ends when the body is closed.
func timedRoundTrip(rt http.RoundTripper, req *http.Request, after time.Duration) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(after, func() { cancel(errHeaderTimeout) })
	resp, err := rt.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		// The timer fired: the attempt's context is cancelled, a body that
		// came at that moment cut off.
		if err == nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, &timeoutError{after: after}
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	resp.Body = cancelOnClose(resp.Body, cancel)
	return resp, nil
}
