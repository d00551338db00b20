// Package origin is the list of app origins the operator allows, and the
// CORS answers it implies. The same list decides which pages may embed the
// Connect Portal, receive its results by postMessage, open the SDK's popup
// and call the API from browsers.
package origin

import (
	"net/http"
	"slices"
	"strings"
)

// Allowlist holds exact origins ("https://app.example.com").
type Allowlist []string

// Allows reports whether o is one of the allowed origins.
func (a Allowlist) Allows(o string) bool { return o != "" && slices.Contains(a, o) }

// CORS lets the allowed origins call the management API and the proxy
// from browsers (the SDK does, with a bearer token and no cookies). Other
// origins get no CORS headers, so browsers keep the responses from the
// page. Preflights are answered here for every route. These are the only
// CORS headers a proxied answer carries: the proxy drops the upstream's
// Access-Control-* headers and merges its Vary into one line with ours
// (gateway/proxy/headers.go).
func (a Allowlist) CORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed := a.Allows(origin)
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "X-Plugboard-Error, X-Request-Id, Content-Type, Retry-After")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
			if !allowed {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", sanitizeHeaderList(req))
			}
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sanitizeHeaderList keeps only valid header names from a preflight's
// Access-Control-Request-Headers (apps may send their own headers through
// the proxy, so the list is not fixed).
func sanitizeHeaderList(list string) string {
	var out []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name != "" && len(name) <= 128 && strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == "" {
			out = append(out, name)
		}
	}
	return strings.Join(out, ", ")
}
