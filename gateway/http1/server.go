// Package http1 is the gateway's HTTP/1.1 server: a strict, lean
// replacement for net/http's server on the public listener, serving the
// same http.Handler.
//
// Why: on a proxied request net/http's server costs more CPU than
// everything else the gateway does, mostly in work a proxy does not need
// on every request (a background read per request to notice the caller
// leaving, a context, deadlines and buffers set up each time, its header
// parsing). This server does one goroutine and one read and write buffer
// per connection, parses the head in place, and watches for the caller
// leaving only when a request runs long or streams.
//
// What it does, as net/http does: keep-alive and pipelining, HTTP/1.0,
// chunked request bodies (their trailers read and dropped), Expect:
// 100-continue, Content-Length computed for small answers and chunked
// ones otherwise, answer trailers, Date and sniffed Content-Type, HEAD,
// 1xx informational answers, OPTIONS *, Flush, Hijack and
// http.ResponseController's deadlines, the request's context cancelled
// when the handler returns or the caller goes away, a body the handler
// left read and dropped (up to 256 KiB, after the answer), panics logged
// and the connection closed, a lingering close after a refusal, the
// timeouts and graceful shutdown of http.Server. gateway/http1's
// conformance tests run every case against both servers.
//
// Where it is stricter (RFC 9112's "reject" choices, against request
// smuggling): both Transfer-Encoding and Content-Length, Transfer-Encoding
// in HTTP/1.0, obsolete line folding, whitespace before a header's colon,
// a CR not followed by LF, versions other than HTTP/1.0 and 1.1, and
// CONNECT are refused with a 4xx or 505 and the connection closed. Headers
// the handler changes after WriteHeader may still be sent, until the head
// is written (net/http copies them at WriteHeader). Not supported: HTTP/2
// (the public listener is plain HTTP; TLS and HTTP/2 belong in front).
package http1

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves HTTP/1.x on listeners. Its fields are http.Server's.
type Server struct {
	Handler           http.Handler
	ReadHeaderTimeout time.Duration // for a request's head, from its first byte; 0: ReadTimeout
	ReadTimeout       time.Duration // for a whole request, head and body; 0: none
	WriteTimeout      time.Duration // for writing an answer; 0: none
	IdleTimeout       time.Duration // keep-alive wait for the next request; 0: ReadTimeout
	MaxHeaderBytes    int           // request line and headers; 0: http.DefaultMaxHeaderBytes
	ErrorLog          *log.Logger   // handler panics and the like; nil: the log package's

	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	onShutdown []func()
	shutdown   atomic.Bool
}

// Serve accepts connections on l and serves each on its own goroutine
// until Shutdown or Close, when it returns http.ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		return errors.New("http1: Server.Handler is nil")
	}
	if !s.trackListener(&l, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(&l, false)
	var backoff time.Duration
	for {
		rw, err := l.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("http1: accept error: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := newConn(s, rw)
		if !s.trackConn(c, true) {
			_ = rw.Close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

// isTemporary reports accept errors worth waiting out (too many open
// files and the like), as net/http does.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// RegisterOnShutdown registers f to run, on its own goroutine, when
// Shutdown begins (to end long-lived streams, for one).
func (s *Server) RegisterOnShutdown(f func()) {
	s.mu.Lock()
	s.onShutdown = append(s.onShutdown, f)
	s.mu.Unlock()
}

// Shutdown stops accepting, closes idle connections and waits for the
// requests in flight to be answered (their connections then close), or
// for ctx to end, when it returns ctx's error. Hijacked connections are
// not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	s.mu.Lock()
	err := s.closeListenersLocked()
	for _, f := range s.onShutdown {
		go f()
	}
	s.mu.Unlock()
	wait := time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		if s.closeIdle() {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			wait = min(2*wait, 500*time.Millisecond)
			timer.Reset(wait)
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.shutdown.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		_ = c.rwc.Close()
		delete(s.conns, c)
	}
	return err
}

func (s *Server) closeListenersLocked() error {
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// closeIdle closes the connections waiting for a request and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			_ = c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.shutdown.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = map[*net.Listener]struct{}{}
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.shutdown.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return http.DefaultMaxHeaderBytes
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout != 0 {
		return s.IdleTimeout
	}
	return s.ReadTimeout
}

func (s *Server) headerTimeout() time.Duration {
	if s.ReadHeaderTimeout != 0 {
		return s.ReadHeaderTimeout
	}
	return s.ReadTimeout
}
