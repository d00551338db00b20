package http1

import (
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// request is a parsed head: what becomes an http.Request.
type request struct {
	method, target, proto string
	minor                 int
	url                   *url.URL
	header                http.Header
	host                  string
	length                int64 // -1: chunked
	close                 bool
	expect                bool // 100-continue, with a body to come
}

func badRequest(text string) *requestError {
	return &requestError{status: http.StatusBadRequest, text: text}
}

// parseHead parses a request's line and headers (RFC 9112), refusing
// what could be read two ways (request smuggling) rather than guessing.
func parseHead(head string) (*request, *requestError) {
	// A CR is only allowed before LF.
	for i := 0; ; {
		j := strings.IndexByte(head[i:], '\r')
		if j < 0 {
			break
		}
		i += j + 1
		if i >= len(head) || head[i] != '\n' {
			return nil, badRequest("CR not followed by LF")
		}
	}
	line, rest := cutLine(head)
	r := &request{}
	method, after, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(after, " ")
	if !ok1 || !ok2 {
		return nil, badRequest("malformed HTTP request")
	}
	if !isToken(method) {
		return nil, badRequest("invalid method")
	}
	r.method = internMethod(method)
	switch proto {
	case "HTTP/1.1":
		r.minor = 1
	case "HTTP/1.0":
		r.minor = 0
	default:
		if _, _, ok := http.ParseHTTPVersion(proto); ok {
			return nil, &requestError{status: http.StatusHTTPVersionNotSupported, text: "unsupported protocol version"}
		}
		return nil, badRequest("malformed HTTP version")
	}
	r.proto = proto
	if target == "" || !validTarget(target) {
		return nil, badRequest("invalid request target")
	}
	r.target = target
	switch {
	case r.method == http.MethodConnect:
		return nil, &requestError{status: http.StatusMethodNotAllowed, text: "CONNECT is not served"}
	case target == "*":
		if r.method != http.MethodOptions {
			return nil, badRequest("invalid request target")
		}
		r.url = &url.URL{Path: "*"}
	default:
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return nil, badRequest("") // net/http's answer to an invalid escape, say
		}
		r.url = u
	}

	n := strings.Count(rest, "\n") // the header lines, and the empty one
	h := make(http.Header, n)
	strs := make([]string, n) // backing for one value each, as net/textproto does
	for {
		line, rest = cutLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, badRequest("obsolete line folding")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return nil, badRequest("invalid header name")
		}
		value = strings.Trim(value, " \t")
		if !validValue(value) {
			return nil, badRequest("invalid header value")
		}
		key := canonicalKey(name)
		if vv := h[key]; vv == nil && len(strs) > 0 {
			strs[0] = value
			h[key] = strs[:1:1]
			strs = strs[1:]
		} else {
			h[key] = append(vv, value)
		}
	}

	hosts := h["Host"]
	switch {
	case len(hosts) > 1:
		return nil, badRequest("too many Host headers")
	case len(hosts) == 0 && r.minor >= 1:
		return nil, badRequest("missing required Host header")
	case len(hosts) == 1:
		if !httpguts.ValidHostHeader(hosts[0]) {
			return nil, badRequest("malformed Host header")
		}
		r.host = hosts[0]
	}
	delete(h, "Host")
	if r.url.Host != "" {
		r.host = r.url.Host // absolute-form: the target's host wins (RFC 9112 section 3.2.2)
	}

	if te, cl := h["Transfer-Encoding"], h["Content-Length"]; len(te) > 0 {
		switch {
		case r.minor == 0:
			return nil, badRequest("Transfer-Encoding in an HTTP/1.0 request")
		case len(te) != 1 || !strings.EqualFold(te[0], "chunked"):
			return nil, &requestError{status: http.StatusNotImplemented, text: "unsupported transfer encoding"}
		case len(cl) > 0:
			return nil, badRequest("both Transfer-Encoding and Content-Length")
		}
		r.length = -1
	} else if len(cl) > 0 {
		for _, v := range cl[1:] {
			if v != cl[0] {
				return nil, badRequest("conflicting Content-Length headers")
			}
		}
		n, ok := parseLength(cl[0])
		if !ok {
			return nil, badRequest("bad Content-Length")
		}
		r.length = n
	}

	conn := h["Connection"]
	r.close = r.minor == 0 && !hasToken(conn, "keep-alive") || hasToken(conn, "close")
	if ex := h["Expect"]; len(ex) > 0 {
		if len(ex) != 1 || !strings.EqualFold(ex[0], "100-continue") {
			return nil, &requestError{status: http.StatusExpectationFailed}
		}
		r.expect = r.minor >= 1 && r.length != 0
	}
	r.header = h
	return r, nil
}

// newBody is the request's body reader, or http.NoBody.
func (c *conn) newBody(r *request) *body {
	if r.length == 0 {
		return nil
	}
	b := &body{c: c, remaining: r.length}
	if r.length < 0 {
		b.chunked = httputil.NewChunkedReader(c.br)
	}
	return b
}

// cutLine returns s's first line, without its LF or CRLF, and the rest.
func cutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseLength parses a Content-Length: digits only.
func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// hasToken reports whether the comma-separated lists in vv hold tok,
// case-insensitively.
func hasToken(vv []string, tok string) bool {
	for _, v := range vv {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), tok) {
				return true
			}
		}
	}
	return false
}

// tokenChars are RFC 9110's tchar.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// validValue reports whether a header value (its surrounding whitespace
// trimmed) has no control characters but HTAB.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// validTarget reports whether a request target has no spaces or control
// characters (url.ParseRequestURI checks the rest).
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b == 0x7f {
			return false
		}
	}
	return true
}

func internMethod(m string) string {
	switch m {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "PUT":
		return http.MethodPut
	case "PATCH":
		return http.MethodPatch
	case "DELETE":
		return http.MethodDelete
	case "HEAD":
		return http.MethodHead
	case "OPTIONS":
		return http.MethodOptions
	}
	return m
}

// commonHeaders maps lower-cased names of frequent request headers to
// their canonical form, saving canonicalKey the work.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization", "Baggage",
		"Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Type", "Cookie",
		"Expect", "Forwarded", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "Origin", "Pragma",
		"Priority", "Range", "Referer", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Sec-Websocket-Extensions", "Sec-Websocket-Key", "Sec-Websocket-Protocol", "Sec-Websocket-Version",
		"Te", "Traceparent", "Tracestate", "Transfer-Encoding", "Upgrade", "User-Agent",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Paragon-Credential",
		"X-Paragon-Proxy-Url", "X-Real-Ip", "X-Request-Id",
	} {
		m[strings.ToLower(k)] = textproto.CanonicalMIMEHeaderKey(k)
	}
	return m
}()

// canonicalKey is textproto.CanonicalMIMEHeaderKey(name), without
// allocating for common headers.
func canonicalKey(name string) string {
	if len(name) <= 32 {
		var lower [32]byte
		for i := 0; i < len(name); i++ {
			b := name[i]
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			lower[i] = b
		}
		if k, ok := commonHeaders[string(lower[:len(name)])]; ok {
			return k
		}
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}
