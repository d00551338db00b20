// Package accesslog is what the gateway's access log line says about one
// request beyond its route and status: the request id, and the project,
// user and integration the handlers found, and the upstream's answer. The
// gateway's middleware puts an Entry in each request's context; handlers
// annotate it through the functions below, which do nothing when there is
// none. An Entry holds identifiers and numbers only: never a token, a
// header value, a query string or a body.
package accesslog

import (
	"context"
	"math/rand/v2"
	"time"
)

// RequestIDHeader carries the request id: accepted from the caller when it
// is sane (ValidRequestID), echoed in the response and sent upstream on
// proxied calls.
const RequestIDHeader = "X-Request-Id"

// Message is the message of every access log record.
const Message = "access"

// MaxRequestIDLength bounds an accepted X-Request-Id.
const MaxRequestIDLength = 128

// Entry is one request's annotations. It is written from the request's
// own goroutine only (the proxy's attempts run there too).
type Entry struct {
	RequestID   string
	Project     string
	User        string
	Integration string
	// UpstreamStatus is the status of the last attempt that got an
	// answer from the upstream; 0 when there was none.
	UpstreamStatus int
	// Upstream is the time the upstream took to answer with its headers,
	// summed over the attempts (a replay after a refresh is a second one).
	Upstream time.Duration

	idHeader [1]string // the request id as a header value, allocated once
}

// SetRequestIDHeader sets the request id in h, without allocating a value
// slice per header: the response's and the upstream request's share one.
// Header.Set and Header.Add replace or grow it, never write into it.
func (e *Entry) SetRequestIDHeader(h map[string][]string) {
	e.idHeader[0] = e.RequestID
	h[RequestIDHeader] = e.idHeader[:]
}

type entryKey struct{}

// NewContext returns ctx carrying e.
func NewContext(ctx context.Context, e *Entry) context.Context {
	return context.WithValue(ctx, entryKey{}, e)
}

// From returns the request's entry, or nil.
func From(ctx context.Context) *Entry {
	e, _ := ctx.Value(entryKey{}).(*Entry)
	return e
}

// SetUser records the project and the authenticated end user.
func SetUser(ctx context.Context, projectID, userID string) {
	if e := From(ctx); e != nil {
		e.Project, e.User = projectID, userID
	}
}

// SetIntegration records the integration the request is about.
func SetIntegration(ctx context.Context, integrationID string) {
	if e := From(ctx); e != nil {
		e.Integration = integrationID
	}
}

// Set records project, user and integration at once (empty values are
// left as they were).
func Set(ctx context.Context, projectID, userID, integrationID string) {
	e := From(ctx)
	if e == nil {
		return
	}
	if projectID != "" {
		e.Project = projectID
	}
	if userID != "" {
		e.User = userID
	}
	if integrationID != "" {
		e.Integration = integrationID
	}
}

// AddUpstream records one attempt's answer: its status and how long the
// upstream took to send its headers.
func (e *Entry) AddUpstream(status int, took time.Duration) {
	e.UpstreamStatus = status
	e.Upstream += took
}

// RequestID returns the caller's request id when ValidRequestID accepts
// it, otherwise a new one.
func RequestID(incoming string) string {
	if ValidRequestID(incoming) {
		return incoming
	}
	return NewRequestID()
}

// ValidRequestID accepts 1 to MaxRequestIDLength characters among ASCII
// letters, digits and -._~:+/=@ — what request id schemes use (UUIDs,
// hex, base64, ULIDs, "service:id"), and nothing that could break a log
// line or a header.
func ValidRequestID(s string) bool {
	if s == "" || len(s) > MaxRequestIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == ':', c == '+', c == '/', c == '=', c == '@':
		default:
			return false
		}
	}
	return true
}

// NewRequestID returns 32 random hex digits. They come from math/rand/v2's
// ChaCha8 generator, seeded by the operating system: a request id must be
// unique, not secret, and this costs no system call.
func NewRequestID() string {
	const hexDigits = "0123456789abcdef"
	var b [32]byte
	for half := range 2 {
		v := rand.Uint64()
		for i := range 16 {
			b[half*16+i] = hexDigits[v&0xf]
			v >>= 4
		}
	}
	return string(b[:])
}
