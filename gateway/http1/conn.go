package http1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A connection's state, for Shutdown: only an idle one (waiting for a
// request, nothing of it read) is closed under it.
const (
	stateIdle int32 = iota
	stateActive
	stateHijacked
	stateClosed
)

// watchAfter is how long a request may run before the connection is
// watched for the caller leaving (a read in the background, which
// cancels the request's context on end of stream). Short requests are
// not watched: a read per request is what makes net/http's server slow.
// A Flush starts the watch at once.
const watchAfter = 200 * time.Millisecond

// bodyBuffer is how much of an answer is held back to learn its length:
// an answer that ends within it is sent with a Content-Length.
const bodyBuffer = 4 << 10

// maxDiscard is how much of a request body the handler did not read is
// read and dropped to keep the connection; beyond it, it is closed.
const maxDiscard = 256 << 10

var aLongTimeAgo = time.Unix(1, 0)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

// conn is one connection and what its requests share.
type conn struct {
	srv     *Server
	rwc     net.Conn
	remote  string
	baseCtx context.Context
	br      *bufio.Reader // reads through conn.Read: the watcher's byte first
	bw      *bufio.Writer
	state   atomic.Int32
	broken  atomic.Bool // a request body was cut short or malformed: no next request
	head    []byte      // a head longer than the read buffer, assembled
	body    []byte      // the start of the current answer, held back (bodyBuffer)

	// The watch for the caller leaving, and what it touches.
	mu        sync.Mutex
	timer     *time.Timer
	serving   bool // a handler runs
	bodyDone  bool // its request's body is read to the end, or there is none
	hijacked  bool
	watching  bool
	aborting  bool
	gone      bool // the watch saw the caller leave
	watchDone chan struct{}
	cancel    context.CancelFunc // the running request's
	peek      [1]byte
	peeked    bool // peek holds the next request's first byte
	expect    bool // a 100 Continue is owed before the body is read

	lingering bool // the connection closes with some of a body unread
	afterPost bool // the last request was a POST
}

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{srv: s, rwc: rwc, remote: rwc.RemoteAddr().String()}
	c.baseCtx = context.WithValue(context.Background(), http.LocalAddrContextKey, rwc.LocalAddr())
	c.state.Store(stateIdle)
	return c
}

// Read is the read buffer's source: the byte the watch read, if any, then
// the connection. It is never called while the watch runs.
func (c *conn) Read(p []byte) (int, error) {
	if c.peeked && len(p) > 0 {
		p[0] = c.peek[0]
		c.peeked = false
		return 1, nil
	}
	return c.rwc.Read(p)
}

// serve reads and answers requests until the connection ends.
func (c *conn) serve() {
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(c)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(c.rwc)
	defer c.end()
	for {
		req, w, rerr := c.readRequest()
		if rerr != nil {
			if rerr.status != 0 {
				c.reject(rerr)
			}
			return
		}
		c.run(w, req)
		if w.hijacked {
			return
		}
		if !c.finish(w) {
			return
		}
	}
}

// end closes the connection (unless it was hijacked) and logs a handler's
// panic.
func (c *conn) end() {
	if v := recover(); v != nil && v != http.ErrAbortHandler {
		buf := make([]byte, 64<<10)
		buf = buf[:runtime.Stack(buf, false)]
		c.srv.logf("http1: panic serving %v: %v\n%s", c.remote, v, buf)
	}
	c.mu.Lock()
	hijacked := c.hijacked
	c.serving = false // a watch cannot start from here on
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
	if hijacked {
		return
	}
	c.state.Store(stateClosed)
	if c.lingering {
		c.linger()
	}
	_ = c.rwc.Close()
	c.srv.trackConn(c, false)
	c.stopWatch() // it ends at once on the closed connection
	c.br.Reset(nil)
	readerPool.Put(c.br)
	c.bw.Reset(nil)
	writerPool.Put(c.bw)
}

// run calls the handler, watching the connection if it runs long.
func (c *conn) run(w *response, req *http.Request) {
	c.mu.Lock()
	c.serving = true
	c.bodyDone = req.Body == http.NoBody
	if c.timer == nil {
		c.timer = time.AfterFunc(watchAfter, c.startWatch)
	} else {
		c.timer.Reset(watchAfter)
	}
	c.mu.Unlock()
	if req.RequestURI == "*" {
		globalOptions(w, req)
	} else {
		c.srv.Handler.ServeHTTP(w, req)
	}
	c.mu.Lock()
	c.timer.Stop()
	c.serving = false
	c.mu.Unlock()
	if !w.hijacked {
		c.stopWatch()
	}
}

// finish completes the answer and reports whether the connection can
// carry another request.
func (c *conn) finish(w *response) bool {
	defer c.cancel()
	b := w.body
	unread := b != nil && !c.broken.Load() && !b.done()
	if unread && (b.continueOwed() || b.left() > maxDiscard) {
		// The caller waits for a 100 Continue before sending the body, or
		// much of it is left: answer, and close rather than read it.
		w.closeAfter = true
	}
	if err := w.finish(); err != nil {
		return false
	}
	if unread && !w.closeAfter {
		// A little is left: read and drop it to keep the connection.
		_ = c.rwc.SetReadDeadline(time.Now().Add(discardTimeout))
		if !b.discard() {
			w.closeAfter = true
		}
	}
	if unread && w.closeAfter {
		c.lingering = true
	}
	return !c.gone && !c.broken.Load() && !w.closeAfter && !c.srv.shutdown.Load()
}

// discardTimeout bounds reading the rest of a body the handler left.
const discardTimeout = 5 * time.Second

// readRequest waits for the next request and reads its head. A
// requestError with a status is answered; one without closes quietly.
func (c *conn) readRequest() (*http.Request, *response, *requestError) {
	s := c.srv
	if c.br.Buffered() == 0 {
		if d := s.idleTimeout(); d > 0 {
			_ = c.rwc.SetReadDeadline(time.Now().Add(d))
		} else {
			_ = c.rwc.SetReadDeadline(time.Time{})
		}
		c.state.Store(stateIdle)
		if s.shutdown.Load() {
			return nil, nil, &requestError{}
		}
		if _, err := c.br.Peek(1); err != nil {
			return nil, nil, &requestError{}
		}
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			return nil, nil, &requestError{} // closed by Shutdown
		}
	} else {
		c.state.Store(stateActive)
	}
	start := time.Now()
	if d := s.headerTimeout(); d > 0 {
		_ = c.rwc.SetReadDeadline(start.Add(d))
	} else {
		_ = c.rwc.SetReadDeadline(time.Time{})
	}
	if c.afterPost {
		// Old clients send a CRLF after a POST's body (RFC 9112 section
		// 2.2 asks servers to ignore it), as net/http does.
		buf, _ := c.br.Peek(min(4, c.br.Buffered()))
		n := 0
		for n < len(buf) && (buf[n] == '\r' || buf[n] == '\n') {
			n++
		}
		_, _ = c.br.Discard(n)
	}
	head, rerr := c.readHead(s.maxHeaderBytes() + 4096)
	if rerr != nil {
		return nil, nil, rerr
	}
	r, rerr := parseHead(head)
	if rerr != nil {
		return nil, nil, rerr
	}
	var reqBody io.ReadCloser = http.NoBody
	b := c.newBody(r)
	if b != nil {
		reqBody = b
		// The head's deadline must not cut the body short.
		_ = c.rwc.SetReadDeadline(time.Time{})
	}
	// (Without a body the head's deadline may stay: nothing is read until
	// the next request, or the watch, which clears it.)
	if s.ReadTimeout > 0 {
		_ = c.rwc.SetReadDeadline(start.Add(s.ReadTimeout))
	}
	if s.WriteTimeout > 0 {
		_ = c.rwc.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
	}
	ctx, cancel := context.WithCancel(c.baseCtx)
	c.mu.Lock()
	c.cancel = cancel
	c.expect = r.expect
	c.mu.Unlock()
	var zero http.Request
	req := zero.WithContext(ctx)
	c.afterPost = r.method == http.MethodPost
	req.Method, req.URL, req.Proto, req.ProtoMajor, req.ProtoMinor = r.method, r.url, r.proto, 1, r.minor
	req.Header, req.Body, req.ContentLength, req.Close = r.header, reqBody, r.length, r.close
	req.Host, req.RemoteAddr, req.RequestURI = r.host, c.remote, r.target
	if r.length < 0 {
		req.TransferEncoding = []string{"chunked"}
		delete(req.Header, "Transfer-Encoding")
	}
	w := &response{c: c, req: req, header: make(http.Header), cl: -1, head: req.Method == http.MethodHead}
	if b != nil {
		b.w, w.body = w, b
	}
	c.body = c.body[:0]
	return req, w, nil
}

// readHead reads a request's line and headers up to and including the
// empty line that ends them, as one string: the request's strings are
// cut from it.
func (c *conn) readHead(limit int) (string, *requestError) {
	// Usually the whole head is in the read buffer already.
	buf, _ := c.br.Peek(c.br.Buffered())
	if n := headEnd(buf); n > 0 {
		if n > limit {
			return "", errHeadTooLarge
		}
		head := string(buf[:n])
		_, _ = c.br.Discard(n)
		return head, nil
	}
	c.head = c.head[:0]
	lineStart := true
	for {
		line, err := c.br.ReadSlice('\n')
		if len(c.head)+len(line) > limit {
			return "", errHeadTooLarge
		}
		c.head = append(c.head, line...)
		if err == bufio.ErrBufferFull {
			lineStart = false // a long line, continued
			continue
		}
		if err != nil {
			if len(c.head) > 0 && !isTimeout(err) && err != io.EOF {
				return "", &requestError{status: http.StatusBadRequest}
			}
			return "", &requestError{} // the caller left, or was too slow
		}
		if lineStart && (len(line) == 1 || len(line) == 2 && line[0] == '\r') {
			if len(c.head) == len(line) {
				return "", &requestError{status: http.StatusBadRequest, text: "malformed HTTP request"}
			}
			break
		}
		lineStart = true
	}
	return string(c.head), nil
}

// headEnd is the length of buf's head, up to and including the empty line
// ending it, or 0 if it does not hold a whole one.
func headEnd(buf []byte) int {
	for i := 0; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2
		}
	}
	return 0
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// requestError is a request refused before its handler: its status (0:
// close without answering) and why.
type requestError struct {
	status int
	text   string
}

var errHeadTooLarge = &requestError{status: http.StatusRequestHeaderFieldsTooLarge}

// reject answers a refused request as net/http does, and the connection
// then closes.
func (c *conn) reject(e *requestError) {
	msg := strconv.Itoa(e.status) + " " + http.StatusText(e.status)
	if e.text != "" {
		msg += ": " + e.text
	}
	_ = c.rwc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.bw.WriteString("HTTP/1.1 " + msg + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + msg)
	if c.bw.Flush() == nil {
		c.linger()
	}
}

// linger ends the answer's side of the connection and reads what the
// caller still sends for a moment before the connection closes: closing
// with unread bytes would reset it, and the caller could lose the answer.
func (c *conn) linger() {
	cw, ok := c.rwc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	_ = c.rwc.SetReadDeadline(deadline)
	if _, err := io.CopyN(io.Discard, c.rwc, maxDiscard); err == nil {
		// The caller is still sending (a large body): leave it the rest
		// of the time to read the answer before the close resets the
		// connection, as net/http does.
		time.Sleep(time.Until(deadline))
	}
}

// startWatch reads the connection in the background while a handler
// runs, once its request's body is read: the caller leaving cancels the
// request's context. Called by the timer and by Flush.
func (c *conn) startWatch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.serving || c.watching || !c.bodyDone || c.hijacked || c.peeked || c.br.Buffered() > 0 {
		return
	}
	c.watching = true
	c.watchDone = make(chan struct{})
	_ = c.rwc.SetReadDeadline(time.Time{})
	go c.watch(c.cancel, c.watchDone)
}

func (c *conn) watch(cancel context.CancelFunc, done chan struct{}) {
	defer close(done)
	n, err := c.rwc.Read(c.peek[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if n == 1 {
		c.peeked = true // a pipelined request: the caller is there
	}
	if err != nil && !c.aborting {
		c.gone = true
		cancel()
	}
}

// stopWatch ends the watch, if one runs, and waits for it.
func (c *conn) stopWatch() {
	c.mu.Lock()
	if !c.watching {
		c.mu.Unlock()
		return
	}
	c.aborting = true
	done := c.watchDone
	c.mu.Unlock()
	_ = c.rwc.SetReadDeadline(aLongTimeAgo)
	<-done
	c.mu.Lock()
	c.watching, c.aborting = false, false
	c.mu.Unlock()
}

// writeContinue sends the 100 Continue a caller waits for before sending
// its body, unless the answer has begun.
func (c *conn) writeContinue(w *response) {
	c.mu.Lock()
	owed := c.expect
	c.expect = false
	c.mu.Unlock()
	if owed && !w.headSent {
		_, _ = c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		_ = c.bw.Flush()
	}
}

// globalOptions answers "OPTIONS *" (the server's, not a resource's
// options) as net/http does.
func globalOptions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}
