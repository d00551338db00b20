package accesslog

import (
	"sync"
	"time"
)

// GatewayError is one answer the gateway made itself with an error code
// (X-Plugboard-Error), as the admin console lists them. It holds the
// route pattern, never the path, the query string, a header or a body.
type GatewayError struct {
	Time        time.Time
	Method      string
	Route       string // the route pattern, "unmatched" when none
	Status      int
	Code        string // the error code (apierror's)
	Project     string
	Integration string
	RequestID   string
}

// DefaultRecentErrors is how many gateway errors Recent keeps by default.
const DefaultRecentErrors = 200

// Recent keeps the last gateway errors in a fixed ring: memory is bounded
// whatever the error rate, and the oldest are dropped first. It is safe
// for concurrent use; the zero value keeps DefaultRecentErrors.
type Recent struct {
	Size int // ring size; 0 means DefaultRecentErrors

	mu    sync.Mutex
	ring  []GatewayError
	next  int // where the next error goes
	total uint64
}

// Add records e, dropping the oldest when the ring is full.
func (r *Recent) Add(e GatewayError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := r.Size
	if size <= 0 {
		size = DefaultRecentErrors
	}
	if len(r.ring) < size {
		r.ring = append(r.ring, e)
	} else {
		r.ring[r.next] = e
	}
	r.next = (r.next + 1) % size
	r.total++
}

// List returns the errors kept, newest first, and how many were ever
// recorded (more than len when some were dropped).
func (r *Recent) List() (newestFirst []GatewayError, total uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]GatewayError, 0, len(r.ring))
	for i := 1; i <= len(r.ring); i++ {
		out = append(out, r.ring[(r.next-i+len(r.ring))%len(r.ring)])
	}
	return out, r.total
}
