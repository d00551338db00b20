package proxy

import (
	"mime"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
)

// rewrite shapes the request the upstream receives from the caller's: the
// headers that cross (headers.go), Content-Type: auto, compression and the
// User-Agent. Where it goes and the credential are injectTransport's.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	p := planFrom(pr.In.Context())
	out := pr.Out
	filterRequestHeaders(out.Header, p.websocket)
	if !p.websocket {
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
	if !p.raw {
		// Let the transport negotiate and undo compression, so JSON can be wrapped.
		out.Header.Del("Accept-Encoding")
	}
	if out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", h.UserAgent)
	}
	// The gateway's request id (the caller's when it was sane), so the
	// upstream's logs can be matched with the gateway's.
	if e := accesslog.From(pr.In.Context()); e != nil {
		e.SetRequestIDHeader(out.Header)
	}
}

// modifyResponse shapes the upstream's answer for the caller: the headers
// that cross (headers.go) and the {"output": …} wrapping.
func modifyResponse(resp *http.Response) error {
	p := planFrom(resp.Request.Context())
	filterResponseHeaders(resp.Header, p.vary)
	// The answer carries the gateway's request id; the upstream's own
	// would be added beside it.
	if id, ok := resp.Header[accesslog.RequestIDHeader]; ok {
		delete(resp.Header, accesslog.RequestIDHeader)
		resp.Header[UpstreamRequestIDHeader] = id
	}
	if !p.raw && wrappable(resp) {
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
