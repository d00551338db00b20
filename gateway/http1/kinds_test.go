package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/http1"
)

// Every case runs against net/http's server and ours, configured alike, so
// that ours is held to net/http's behaviour (or to a stricter one, which a
// case then says and asserts for ours alone).

// server is what http.Server and http1.Server have in common.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
	RegisterOnShutdown(func())
}

// config holds the fields both servers share.
type config struct {
	Handler           http.Handler
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	ErrorLog          *log.Logger
}

type kind struct {
	name string
	ours bool
	new  func(config) server
}

var kinds = []kind{
	{name: "nethttp", new: func(c config) server {
		return &http.Server{Handler: c.Handler, ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
			WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxHeaderBytes: c.MaxHeaderBytes, ErrorLog: c.ErrorLog}
	}},
	{name: "http1", ours: true, new: func(c config) server {
		return &http1.Server{Handler: c.Handler, ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
			WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxHeaderBytes: c.MaxHeaderBytes, ErrorLog: c.ErrorLog}
	}},
}

// forKinds runs f once per kind, in parallel subtests.
func forKinds(t *testing.T, f func(t *testing.T, k kind)) {
	t.Helper()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

// wait bounds every wait of the suite: a case that needs more is broken.
const wait = 5 * time.Second

type testServer struct {
	t      testing.TB
	kind   kind
	srv    server
	addr   string
	log    *logSink
	served chan error // Serve's result
}

// start serves cfg on a fresh 127.0.0.1 listener until the test ends. Unless
// cfg has an ErrorLog, the server logs to ts.log.
func start(t testing.TB, k kind, cfg config) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, kind: k, addr: l.Addr().String(), log: newLogSink(), served: make(chan error, 1)}
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = log.New(ts.log, "", 0)
	}
	ts.srv = k.new(cfg)
	go func() { ts.served <- ts.srv.Serve(l) }()
	t.Cleanup(func() {
		_ = ts.srv.Close()
		select {
		case err := <-ts.served:
			if err != nil && !errors.Is(err, http.ErrServerClosed) { // nil: the test took the result itself
				t.Errorf("%s: Serve after Close: %v, want http.ErrServerClosed", k.name, err)
			}
		case <-time.After(wait):
			t.Errorf("%s: Serve did not return after Close", k.name)
		}
	})
	return ts
}

// startFunc is start with only a handler.
func startFunc(t testing.TB, k kind, h http.HandlerFunc) *testServer {
	t.Helper()
	return start(t, k, config{Handler: h})
}

// client is one raw TCP connection to a test server.
type client struct {
	t    testing.TB
	conn *net.TCPConn
	br   *bufio.Reader
}

func (ts *testServer) dial() *client {
	ts.t.Helper()
	return dialAddr(ts.t, ts.addr)
}

func dialAddr(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(wait))
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, conn: c.(*net.TCPConn), br: bufio.NewReader(c)}
}

func (c *client) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// answer is a response read off the wire, its body read in full.
type answer struct {
	*http.Response
	body    string
	bodyErr error
}

// read reads one answer to a request of that method ("" is GET).
func (c *client) read(method string) (*answer, error) {
	if method == "" {
		method = http.MethodGet
	}
	res, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	return &answer{Response: res, body: string(b), bodyErr: err}, nil
}

// answer reads one answer, failing the test if there is none or its body is cut.
func (c *client) answer(method string) *answer {
	c.t.Helper()
	a, err := c.read(method)
	if err != nil {
		c.t.Fatalf("reading the answer: %v", err)
	}
	if a.bodyErr != nil {
		c.t.Fatalf("reading the answer's body: %v (got %q)", a.bodyErr, a.body)
	}
	return a
}

// wantClosed asserts that the server closes the connection without sending
// anything more.
func (c *client) wantClosed() {
	c.t.Helper()
	buf := make([]byte, 512)
	n, err := c.br.Read(buf)
	switch {
	case n > 0:
		c.t.Errorf("want the connection closed, got %d more bytes: %q", n, buf[:n])
	case isTimeout(err):
		c.t.Errorf("want the connection closed, still open after %v", wait)
	case err == nil:
		c.t.Errorf("want the connection closed, read returned nothing and no error")
	}
}

// wantEnd is wantClosed for a server that may first answer: it reads
// whatever comes until the connection ends and returns it.
func (c *client) wantEnd() string {
	c.t.Helper()
	b, err := io.ReadAll(c.br)
	if isTimeout(err) {
		c.t.Errorf("want the connection closed, still open after %v (got %q)", wait, b)
	}
	return string(b)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// logSink is a server's ErrorLog.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // signalled (without blocking) on each write
}

func newLogSink() *logSink { return &logSink{wrote: make(chan struct{}, 1)} }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits until the log holds s, up to wait.
func (l *logSink) waitFor(s string) bool {
	deadline := time.After(wait)
	for !strings.Contains(l.String(), s) {
		select {
		case <-l.wrote:
		case <-deadline:
			return false
		}
	}
	return true
}

// paths records the request targets a handler was called with.
type paths struct {
	mu   sync.Mutex
	seen []string
}

func (p *paths) add(s string) {
	p.mu.Lock()
	p.seen = append(p.seen, s)
	p.mu.Unlock()
}

func (p *paths) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// echo answers with the request's body, and its path in X-Path; it records
// the targets it saw in p (if not nil). A body that cannot be read is a 400.
func echo(p *paths) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p != nil {
			p.add(r.RequestURI)
		}
		b, err := io.ReadAll(r.Body)
		w.Header().Set("X-Path", r.URL.Path)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "body: "+err.Error())
			return
		}
		_, _ = w.Write(b)
	}
}

// recv waits for a value on ch, up to wait.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("no %s after %v", what, wait)
		panic("unreachable")
	}
}
