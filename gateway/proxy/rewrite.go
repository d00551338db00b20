package proxy

import (
	"mime"
	"net/http"
	"strings"
)

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
