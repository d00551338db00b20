package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Client is the proxy's upstream HTTP/1.1 client, an http.RoundTripper.
// Unlike http.Transport it writes a request and reads its answer on the
// caller's goroutine, over a connection it keeps idle between requests:
// no goroutines per connection and no hand-offs between them, which is
// most of what a Transport costs a proxy beyond the system calls. It
// speaks HTTP/1.1 only, over TLS for https (nginx talks to its upstreams
// the same way); a connection carries one request at a time.
//
// Each attempt is bounded by its context (its deadline and its end) and,
// for the proxy, up to the answer's headers by the integration's
// api.timeout. An idle connection that the upstream closed in
// the meantime is replaced once, when the request can be sent again.
type Client struct {
	// Dial opens connections; nil dials directly. The gateway's is its
	// egress guard's.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS is the base configuration for https upstreams (ServerName is
	// set per host); nil is the system's roots and TLS 1.2 or later.
	TLS *tls.Config
	// MaxIdlePerHost connections are kept per scheme and host; default 256.
	MaxIdlePerHost int
	// IdleTimeout closes connections idle for longer; default 90s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps an answer's status line and headers; default 1 MiB.
	MaxHeaderBytes int64

	mu      sync.Mutex
	idle    map[string][]*clientConn // by pool key, most recently used last
	janitor bool
}

// NewClient returns the proxy's client, dialling through dial.
func NewClient(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Client {
	return &Client{Dial: dial}
}

const (
	defaultMaxIdlePerHost = 256
	defaultIdleTimeout    = 90 * time.Second
	defaultMaxHeaderBytes = 1 << 20
	tlsHandshakeTimeout   = 10 * time.Second
)

// clientConn is one upstream connection and its buffers.
type clientConn struct {
	conn      net.Conn
	raw       net.Conn // the connection under TLS, or conn
	br        *bufio.Reader
	bw        *bufio.Writer
	key       string
	limit     int64 // bytes the answer's head may still take; <0: no limit
	idleSince time.Time
	deadline  bool // a deadline is set on conn
}

// Read counts the bytes of the answer's head (limit) for bufio.
func (c *clientConn) Read(p []byte) (int, error) {
	if c.limit == 0 {
		return 0, errHeadTooLarge
	}
	if c.limit > 0 && int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	n, err := c.conn.Read(p)
	if c.limit > 0 {
		c.limit -= int64(n)
	}
	return n, err
}

var errHeadTooLarge = errors.New("the answer's status line and headers are too large")

// RoundTrip sends req and returns the answer, whose body must be read to
// its end or closed. The body of a 101 Switching Protocols is the
// connection itself (an io.ReadWriteCloser).
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	return c.send(req.Context(), req, 0)
}

// send is RoundTrip with the request's context given (req's own is not
// used) and, when headerTimeout is above 0, the answer's headers due
// within it.
func (c *Client) send(ctx context.Context, req *http.Request, headerTimeout time.Duration) (*http.Response, error) {
	target, err := checkRequest(req)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	key := poolKey(req.URL)
	for try := 0; ; try++ {
		var cc *clientConn
		var reused bool
		if try == 0 {
			cc, reused = c.take(key)
		}
		if cc == nil {
			var err error
			if cc, err = c.dial(ctx, req.URL, key); err != nil {
				if req.Body != nil {
					req.Body.Close()
				}
				return nil, err
			}
		}
		resp, retry, err := c.exchange(ctx, cc, req, target, headerTimeout, reused)
		if err == nil {
			return resp, nil
		}
		if !retry {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		// The idle connection had been closed by the upstream: send again
		// on a new one.
		if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
	}
}

// exchange sends req on cc and reads the answer's head. retry reports that
// nothing came back on a reused connection and req can be sent again.
func (c *Client) exchange(ctx context.Context, cc *clientConn, req *http.Request, target string, headerTimeout time.Duration, reused bool) (_ *http.Response, retry bool, err error) {
	deadline, hasDeadline := ctx.Deadline()
	headerDeadline := deadline
	if headerTimeout > 0 {
		if hd := time.Now().Add(headerTimeout); !hasDeadline || hd.Before(deadline) {
			headerDeadline = hd
		}
	}
	if !headerDeadline.IsZero() || cc.deadline {
		_ = cc.conn.SetDeadline(headerDeadline)
		cc.deadline = !headerDeadline.IsZero()
	}
	// The caller going away ends the attempt: whatever it waits for on the
	// connection fails at once.
	stop := context.AfterFunc(ctx, func() { _ = cc.conn.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, bool, error) {
		stop()
		_ = cc.conn.Close()
		if ctxErr := contextError(ctx, err); ctxErr != nil {
			return nil, false, ctxErr
		}
		if headerTimeout > 0 && isTimeout(err) && (!hasDeadline || headerDeadline.Before(deadline)) {
			return nil, false, &timeoutError{after: headerTimeout}
		}
		return nil, false, err
	}
	werr := writeRequest(cc.bw, req, target)
	if werr == nil {
		werr = cc.bw.Flush()
	}
	if werr != nil {
		var be *bodyReadError
		if errors.As(werr, &be) || isTimeout(werr) {
			return fail(werr)
		}
		// An upstream may answer and close without reading a body it
		// refuses: its answer is still there to read.
		if !reused {
			_ = cc.conn.SetReadDeadline(time.Now().Add(time.Second))
		}
	}
	cc.limit = c.maxHeaderBytes()
	resp, err := readResponse(cc.br, req)
	if err != nil {
		nothingRead := cc.limit == c.maxHeaderBytes()
		if reused && nothingRead && ctx.Err() == nil && replayable(req) && !isTimeout(err) {
			stop()
			_ = cc.conn.Close()
			return nil, true, err
		}
		if werr != nil {
			err = werr
		}
		return fail(err)
	}
	cc.limit = -1
	if werr != nil {
		resp.Close = true
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		_ = cc.conn.SetDeadline(time.Time{})
		cc.deadline = false
		resp.Body = &upgradedConn{cc: cc, stop: stop}
		return resp, false, nil
	}
	// The head is in: from here only the caller's context bounds the body.
	if headerTimeout > 0 {
		_ = cc.conn.SetDeadline(deadline)
		cc.deadline = hasDeadline
	}
	resp.Body = &clientBody{c: c, cc: cc, ctx: ctx, body: resp.Body, stop: stop, reusable: !resp.Close && werr == nil}
	return resp, false, nil
}

// readResponse reads the final answer to req, skipping informational ones
// (100 Continue, 103 Early Hints) but a 101.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols || resp.StatusCode < 100 {
			return resp, nil
		}
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// contextError is ctx's error when err came from ctx ending: its end
// (the connection's deadline set to the past) or its deadline, which the
// connection's own deadline may reach a moment before ctx's timer does.
func contextError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if d, ok := ctx.Deadline(); ok && isTimeout(err) && !time.Now().Before(d) {
		<-ctx.Done() // due now
		return ctx.Err()
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// replayable: a request without a body, or whose body can be had again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func (c *Client) maxHeaderBytes() int64 {
	if c.MaxHeaderBytes > 0 {
		return c.MaxHeaderBytes
	}
	return defaultMaxHeaderBytes
}

// checkRequest refuses what cannot be written as an HTTP/1.1 request: the
// same checks http.Transport makes, so a value rendered from a credential
// cannot add a header or a request.
func checkRequest(req *http.Request) (target string, err error) {
	u := req.URL
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("unsupported URL %q: want http or https with a host", u.Redacted())
	}
	if !validMethod(req.Method) {
		return "", fmt.Errorf("invalid method %q", req.Method)
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return "", fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return "", fmt.Errorf("invalid header field value for %q", k)
			}
		}
	}
	if !httpguts.ValidHostHeader(u.Host) || (req.Host != "" && !httpguts.ValidHostHeader(req.Host)) {
		return "", fmt.Errorf("invalid host %q", u.Host)
	}
	// The request line's target: a space or a control character in the
	// path or query (X-Paragon-Proxy-Url's query is the caller's) would
	// end it early or start another line.
	target = u.RequestURI()
	for i := range len(target) {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return "", errors.New("invalid request target: a space or a control character in the path or query")
		}
	}
	return target, nil
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := range len(m) {
		if !httpguts.IsTokenRune(rune(m[i])) {
			return false
		}
	}
	return true
}

// bodyless methods send no Content-Length: 0 when they have no body.
func bodyless(method string) bool {
	switch method {
	case "GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT":
		return true
	}
	return false
}

// hopHeaders are hop-by-hop headers, which a proxy never passes on
// (RFC 9110 section 7.6.1), and Expect (this client never waits for a 100).
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Expect": true, "Host": true, "Content-Length": true,
}

// writeRequest writes req's head and body to w in HTTP/1.1: the request
// line with target (checkRequest's), Host, the headers (but hop-by-hop
// ones; Connection and Upgrade stay on an upgrade) and the body, framed by
// its length or chunked when unknown.
func writeRequest(w *bufio.Writer, req *http.Request, target string) error {
	upgrade := req.Header.Get("Upgrade") != ""
	head := w.AvailableBuffer() // appended to in place while it fits
	head = append(head, req.Method...)
	head = append(head, ' ')
	head = append(head, target...)
	head = append(head, " HTTP/1.1\r\nHost: "...)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	head = append(head, host...)
	head = append(head, "\r\n"...)
	for k, vv := range req.Header {
		if hopHeaders[k] && !(upgrade && (k == "Connection" || k == "Upgrade")) {
			continue
		}
		for _, v := range vv {
			head = append(head, k...)
			head = append(head, ": "...)
			head = append(head, strings.TrimSpace(v)...)
			head = append(head, "\r\n"...)
		}
	}
	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	switch {
	case body == nil && !bodyless(req.Method):
		_, err := w.Write(append(head, "Content-Length: 0\r\n\r\n"...))
		return err
	case body == nil:
		_, err := w.Write(append(head, "\r\n"...))
		return err
	case req.ContentLength > 0:
		head = append(head, "Content-Length: "...)
		head = strconv.AppendInt(head, req.ContentLength, 10)
		if _, err := w.Write(append(head, "\r\n\r\n"...)); err != nil {
			return err
		}
		er := &errReader{r: io.LimitReader(body, req.ContentLength)}
		n, err := io.Copy(w, er)
		if er.err != nil {
			return &bodyReadError{er.err}
		}
		if err == nil && n < req.ContentLength {
			return &bodyReadError{fmt.Errorf("it ended after %d of its %d bytes", n, req.ContentLength)}
		}
		return err
	default:
		if _, err := w.Write(append(head, "Transfer-Encoding: chunked\r\n\r\n"...)); err != nil {
			return err
		}
		cw := httputil.NewChunkedWriter(w)
		er := &errReader{r: body}
		buf := copyBuffers.Get().(*[]byte)
		_, err := io.CopyBuffer(cw, er, *buf)
		copyBuffers.Put(buf)
		if er.err != nil {
			return &bodyReadError{er.err}
		}
		if err != nil {
			return err
		}
		if err := cw.Close(); err != nil {
			return err
		}
		_, err = w.WriteString("\r\n")
		return err
	}
}

// bodyReadError: the request's body could not be read (the caller's
// side, not the upstream's); an *http.MaxBytesError inside is answered 413.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "reading the request body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// errReader keeps the first error of r other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// poolKey is the scheme and host:port a connection serves.
func poolKey(u *url.URL) string {
	port := u.Port()
	if port == "" {
		if u.Scheme == "https" {
			port = "443"
		} else {
			port = "80"
		}
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

// dial opens a connection for u, over TLS for https.
func (c *Client) dial(ctx context.Context, u *url.URL, key string) (*clientConn, error) {
	addr := key[len(u.Scheme)+3:]
	dial := c.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	raw := conn
	if u.Scheme == "https" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLS != nil {
			cfg = c.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(conn, cfg)
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		conn = tc
	}
	cc := &clientConn{conn: conn, raw: raw, key: key}
	cc.br = bufio.NewReaderSize(cc, 4<<10)
	cc.bw = bufio.NewWriterSize(conn, 4<<10)
	return cc, nil
}

// take returns the most recently idle connection for key, if any.
func (c *Client) take(key string) (*clientConn, bool) {
	for {
		c.mu.Lock()
		list := c.idle[key]
		if len(list) == 0 {
			c.mu.Unlock()
			return nil, false
		}
		cc := list[len(list)-1]
		list[len(list)-1] = nil
		c.idle[key] = list[:len(list)-1]
		c.mu.Unlock()
		idle := time.Since(cc.idleSince)
		// A connection idle for a while may have been closed by the
		// upstream (many close after a few seconds): look before using it,
		// since a request whose body cannot be sent again could not be
		// retried on another.
		if idle < c.idleTimeout() && (idle < idleCheckAfter || alive(cc.raw)) {
			return cc, true
		}
		_ = cc.conn.Close()
	}
}

// idleCheckAfter is how long a connection may sit idle before take looks
// whether the upstream has closed it.
var idleCheckAfter = time.Second

// put keeps cc for the next request to its host, or closes it.
func (c *Client) put(cc *clientConn) {
	cc.idleSince = time.Now()
	c.mu.Lock()
	if c.idle == nil {
		c.idle = map[string][]*clientConn{}
	}
	max := c.MaxIdlePerHost
	if max <= 0 {
		max = defaultMaxIdlePerHost
	}
	list := c.idle[cc.key]
	if len(list) >= max {
		c.mu.Unlock()
		_ = cc.conn.Close()
		return
	}
	c.idle[cc.key] = append(list, cc)
	if !c.janitor {
		c.janitor = true
		go c.closeIdle()
	}
	c.mu.Unlock()
}

func (c *Client) idleTimeout() time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return defaultIdleTimeout
}

// closeIdle closes connections idle for longer than IdleTimeout, every
// half of it, until there are none.
func (c *Client) closeIdle() {
	for {
		time.Sleep(c.idleTimeout() / 2)
		c.mu.Lock()
		n := 0
		for key, list := range c.idle {
			keep := list[:0]
			for _, cc := range list {
				if time.Since(cc.idleSince) >= c.idleTimeout() {
					_ = cc.conn.Close()
					continue
				}
				keep = append(keep, cc)
			}
			clear(list[len(keep):])
			if len(keep) == 0 {
				delete(c.idle, key)
			} else {
				c.idle[key] = keep
			}
			n += len(keep)
		}
		if n == 0 {
			c.janitor = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// CloseIdleConnections closes the connections kept idle.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, list := range c.idle {
		for _, cc := range list {
			_ = cc.conn.Close()
		}
		delete(c.idle, key)
	}
}

// clientBody is an answer's body: read to its end, its connection goes
// back to the pool; closed before, the connection is closed.
type clientBody struct {
	c        *Client
	ctx      context.Context
	cc       *clientConn
	body     io.ReadCloser
	stop     func() bool
	reusable bool
	done     bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.release(true)
	} else if err != nil {
		b.release(false)
		if ctxErr := contextError(b.ctx, err); ctxErr != nil {
			err = ctxErr
		}
	}
	return n, err
}

func (b *clientBody) Close() error {
	if !b.done {
		b.release(false)
	}
	return nil
}

// release ends the attempt: the connection is pooled when the body was read
// to its end and the caller's context did not end meanwhile.
func (b *clientBody) release(atEOF bool) {
	b.done = true
	if b.stop() && atEOF && b.reusable && b.cc.br.Buffered() == 0 {
		b.c.put(b.cc) // the next exchange sets its own deadlines
		return
	}
	_ = b.cc.conn.Close()
}

// upgradedConn is the body of a 101 answer: the connection, reading first
// what was buffered after the answer's head.
type upgradedConn struct {
	cc   *clientConn
	stop func() bool
}

func (u *upgradedConn) Read(p []byte) (int, error)  { return u.cc.br.Read(p) }
func (u *upgradedConn) Write(p []byte) (int, error) { return u.cc.conn.Write(p) }
func (u *upgradedConn) Close() error {
	u.stop()
	return u.cc.conn.Close()
}
