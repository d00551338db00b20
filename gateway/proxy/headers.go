package proxy

import (
	"net/http"
	"strings"
)

// The one place that says which headers cross the proxy. Names are matched
// case-insensitively with "_" read as "-", since some upstreams (CGI/WSGI
// environments, nginx with underscores_in_headers) read X_Forwarded_For as
// X-Forwarded-For. Hop-by-hop headers, and those a request's Connection
// header names, are removed by forward (forwardsRequestHeader, respond).

// droppedRequestHeaders are request headers never forwarded upstream: the
// caller's own credentials and cookies, anything that says who or where the
// caller is (set by CDNs and load balancers in front of the gateway, or
// forged by the caller), and anything that reroutes the request or changes
// its method behind the gateway's back.
var droppedRequestHeaders = []string{
	// The caller's credentials for the gateway and the browser's cookies.
	"Authorization", "Cookie", "Cookie2", "X-Csrf-Token", "X-Xsrf-Token",
	// The app's page, not the gateway, would be named.
	"Origin", "Referer",
	// Who or where the caller is.
	"Forwarded", "Via", "X-Forwarded", "X-Real-Ip", "X-Client-Ip", "Client-Ip", "X-Cluster-Client-Ip",
	"X-True-Client-Ip", "X-Proxyuser-Ip", "X-Originating-Ip", "X-Remote-Ip", "X-Remote-Addr",
	"X-Remote-User", "Remote-User", "X-Custom-Ip-Authorization", "Front-End-Https", "X-Url-Scheme",
	"X-Scheme", "Cdn-Loop",
	// Reroute the request or change its method.
	"X-Host", "X-Http-Host-Override", "X-Rewrite-Url", "X-Override-Url",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	// httpoxy: CGI-style upstreams read it as the HTTP_PROXY variable.
	"Proxy",
}

// droppedRequestPrefixes are families of request headers never forwarded.
var droppedRequestPrefixes = []string{
	"X-Forwarded-", "X-Forward-", "X-Original-", "X-Paragon-", "X-Plugboard-", "Proxy-",
	"True-Client-",              // Akamai, Cloudflare Enterprise: True-Client-IP and variants
	"Cf-",                       // Cloudflare: CF-Connecting-IP, CF-IPCountry, CF-Access-Jwt-Assertion…
	"Fastly-",                   // Fastly-Client-IP, Fastly-SSL…
	"Fly-",                      // Fly-Client-IP, Fly-Forwarded-Port…
	"Akamai-",                   // Akamai-Origin-Hop…
	"X-Envoy-",                  // X-Envoy-External-Address, X-Envoy-Original-Path…
	"X-Appengine-",              // X-Appengine-User-IP, X-Appengine-Country…
	"X-Azure-",                  // X-Azure-ClientIP, X-Azure-SocketIP…
	"X-Arr-",                    // Azure ARR: X-ARR-ClientCert, X-ARR-SSL
	"X-Ms-Client-Principal",     // Azure App Service authentication
	"X-Ms-Token-",               // Azure App Service authentication tokens
	"X-Amzn-",                   // AWS ALB: X-Amzn-Oidc-Identity, X-Amzn-Oidc-Accesstoken…
	"X-Goog-Authenticated-User", // Google IAP
	"X-Goog-Iap-",               // Google IAP
	"X-Vercel-", "X-Nf-",        // Vercel and Netlify client addresses
	"X-Ssl-", "Ssl-Client-", "X-Client-Cert", "Client-Cert", // TLS client certificates (RFC 9440 and older)
	"X-Auth-Request-", // oauth2-proxy's user and email
	"Sec-",            // the browser's Sec-Fetch-*, Sec-CH-*, Sec-GPC… (Sec-WebSocket-* pass on a websocket upgrade)
}

// droppedResponseHeaders are upstream response headers never passed to the
// caller: they would act on the gateway's origin (cookies, HSTS, alternative
// services, site data, browser reporting) rather than the upstream's.
var droppedResponseHeaders = []string{
	"Set-Cookie", "Set-Cookie2", "Strict-Transport-Security", "Alt-Svc", "Clear-Site-Data",
	"Nel", "Report-To", "Reporting-Endpoints", "Public-Key-Pins", "Public-Key-Pins-Report-Only",
}

// droppedResponsePrefixes: the gateway alone decides CORS for its routes,
// and X-Plugboard-* marks the gateway's own errors, which an upstream must
// not be able to fake.
var droppedResponsePrefixes = []string{"Access-Control-", "X-Plugboard-"}

// headerKey is the form names are compared in.
func headerKey(name string) string { return strings.ReplaceAll(strings.ToLower(name), "_", "-") }

type headerFilter struct {
	names    map[string]bool
	prefixes []string
}

func newHeaderFilter(names, prefixes []string) headerFilter {
	f := headerFilter{names: map[string]bool{}}
	for _, n := range names {
		f.names[headerKey(n)] = true
	}
	for _, p := range prefixes {
		f.prefixes = append(f.prefixes, headerKey(p))
	}
	return f
}

func (f headerFilter) drops(name string) bool {
	// Every proxied request and answer passes each of its header names
	// here: fold ASCII names on the stack instead of allocating headerKey's
	// string (the map lookup of string(bytes) does not allocate).
	var buf [64]byte
	if len(name) > len(buf) {
		return f.dropsKey(headerKey(name))
	}
	k := buf[:len(name)]
	for i := range len(name) {
		c := name[i]
		switch {
		case c >= 0x80:
			return f.dropsKey(headerKey(name)) // Unicode case folding
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		k[i] = c
	}
	if f.names[string(k)] {
		return true
	}
	for _, p := range f.prefixes {
		if len(k) >= len(p) && string(k[:len(p)]) == p {
			return true
		}
	}
	return false
}

// dropsKey is drops for a name already in headerKey's form.
func (f headerFilter) dropsKey(k string) bool {
	if f.names[k] {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

var (
	requestFilter  = newHeaderFilter(droppedRequestHeaders, droppedRequestPrefixes)
	responseFilter = newHeaderFilter(droppedResponseHeaders, droppedResponsePrefixes)
)

// forwardsRequestHeader reports whether the caller's header name crosses to
// the upstream: not what droppedRequestHeaders and droppedRequestPrefixes
// name, nor a hop-by-hop header (Connection, Upgrade, TE, Trailer,
// Transfer-Encoding, Keep-Alive, Proxy-*, and Expect: the client never
// waits for a 100). On an accepted websocket upgrade the handshake's
// Connection, Upgrade and Sec-WebSocket-* headers cross.
func forwardsRequestHeader(name string, websocket bool) bool {
	if websocket && (name == "Connection" || name == "Upgrade" || strings.HasPrefix(headerKey(name), "sec-websocket-")) {
		return true
	}
	return !hopHeaders[name] && !requestFilter.drops(name)
}

// filterResponseHeaders removes what droppedResponseHeaders and
// droppedResponsePrefixes name from an upstream answer, merges its Vary
// with the gateway's own (from the CORS middleware, taken out of the
// answer by Serve) into one line without duplicates, and marks the answer
// nosniff.
func filterResponseHeaders(h http.Header, gatewayVary []string) {
	for name := range h {
		if responseFilter.drops(name) {
			delete(h, name)
		}
	}
	if len(gatewayVary) > 0 || len(h["Vary"]) > 0 {
		if vary := mergeTokens(gatewayVary, h.Values("Vary")); vary != "" {
			h.Set("Vary", vary)
		}
	}
	h.Set("X-Content-Type-Options", "nosniff")
}

// mergeTokens joins comma-separated header values, keeping the first
// spelling of each token (compared case-insensitively).
func mergeTokens(lists ...[]string) string {
	seen := map[string]bool{}
	var out []string
	for _, list := range lists {
		for _, v := range list {
			for _, tok := range strings.Split(v, ",") {
				tok = strings.TrimSpace(tok)
				if tok == "" || seen[strings.ToLower(tok)] {
					continue
				}
				seen[strings.ToLower(tok)] = true
				out = append(out, tok)
			}
		}
	}
	return strings.Join(out, ", ")
}
