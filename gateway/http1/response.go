package http1

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// response is the http.ResponseWriter of one request. The head is
// written when the answer's first bodyBuffer bytes are in, or it ends, or
// the handler flushes: headers the handler changes until then are sent.
type response struct {
	c           *conn
	req         *http.Request
	body        *body // req's body as the server made it (nil: none); the handler may replace req.Body
	header      http.Header
	status      int
	wroteHeader bool  // the final status is chosen
	headSent    bool  // the head is in the write buffer
	written     int64 // body bytes the handler wrote
	cl          int64 // the Content-Length announced; -1: none
	chunked     bool
	closeAfter  bool
	head        bool // a HEAD request: no body is sent
	noBody      bool // the status allows none
	hijacked    bool
	trailers    bool  // declared when the head was sent: chunked, with a trailer section
	err         error // a failed write: the connection is done
}

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
)

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.hijacked {
		w.c.srv.logf("http1: response.WriteHeader on hijacked connection from %s", caller())
		return
	}
	if w.wroteHeader {
		w.c.srv.logf("http1: superfluous response.WriteHeader call from %s", caller())
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.informational(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	w.noBody = code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	if v := w.header.Get("Content-Length"); v != "" {
		if n, ok := parseLength(v); ok {
			w.cl = n
		} else {
			w.c.srv.logf("http1: invalid Content-Length of %q", v)
			w.header.Del("Content-Length")
		}
	}
	if code == http.StatusSwitchingProtocols {
		w.closeAfter = true // without a hijack there is nothing to switch to
	}
}

// informational sends a 1xx answer (103 Early Hints, say) at once, to an
// HTTP/1.1 caller; the final answer follows.
func (w *response) informational(code int) {
	if w.req.ProtoMinor == 0 || w.headSent {
		return
	}
	bw := w.c.bw
	writeStatusLine(bw, 1, code)
	_ = w.header.WriteSubset(bw, excludeOwn)
	_, _ = bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		w.err = err
	}
	if code == http.StatusContinue {
		w.c.mu.Lock()
		w.c.expect = false
		w.c.mu.Unlock()
	}
}

func (w *response) Write(p []byte) (int, error) { return w.write(p, "") }

// WriteString is Write without the conversion.
func (w *response) WriteString(s string) (int, error) { return w.write(nil, s) }

// write writes p or s (one of them is empty).
func (w *response) write(p []byte, s string) (int, error) {
	n := len(p) + len(s)
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if send, err := w.writable(n); err != nil || !send {
		if err != nil {
			return 0, err
		}
		return n, nil
	}
	c := w.c
	if !w.headSent {
		if len(c.body)+n <= bodyBuffer {
			c.body = append(c.body, p...)
			c.body = append(c.body, s...)
			return n, nil
		}
		if p == nil {
			p = []byte(s)
		}
		w.sendHead(false, p)
	} else if p == nil {
		p = []byte(s)
	}
	return w.writeBody(p)
}

// writable checks a write of n body bytes and counts it; send reports
// whether they go on the wire (not for HEAD).
func (w *response) writable(n int) (send bool, err error) {
	switch {
	case w.hijacked:
		return false, http.ErrHijacked
	case w.err != nil:
		return false, w.err
	case n == 0:
		return false, nil
	case w.noBody:
		return false, http.ErrBodyNotAllowed
	case w.cl >= 0 && w.written+int64(n) > w.cl:
		w.closeAfter = true
		return false, http.ErrContentLength
	}
	w.written += int64(n)
	return !w.head, nil
}

func (w *response) writeBody(p []byte) (int, error) {
	bw := w.c.bw
	if w.chunked {
		_, _ = bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		_, _ = bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	if err == nil && w.chunked {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		w.err = err
	}
	return n, err
}

// sendHead writes the status line and headers, and the body held back.
// final reports that the handler is done (so the length is known); sniff
// is the body's first bytes when none were held back.
func (w *response) sendHead(final bool, sniff []byte) {
	w.headSent = true
	c := w.c
	h := w.header
	exclude := excludeOwn
	if w.declaresTrailers() {
		// Trailers follow the last chunk: the length is not given, and
		// the trailers' values, set late, are not sent as headers.
		w.trailers = true
		exclude = trailerExclusions(h)
	}
	if w.cl < 0 && !w.noBody {
		switch {
		case w.trailers && !w.head && w.req.ProtoMinor >= 1:
			w.chunked = true
		case final && !w.head, final && w.written > 0:
			w.cl = w.written
		case w.head:
			// A HEAD answer of unknown length: none is given.
		case w.req.ProtoMinor >= 1:
			w.chunked = true
		default:
			w.closeAfter = true // HTTP/1.0: the end of the connection ends the body
		}
	}
	if w.req.Close || c.broken.Load() || c.srv.shutdown.Load() || hasToken(h["Connection"], "close") {
		w.closeAfter = true
	}
	bw := c.bw
	writeStatusLine(bw, w.req.ProtoMinor, w.status)
	_ = h.WriteSubset(bw, exclude)
	if _, ok := h["Date"]; !ok {
		_, _ = bw.WriteString("Date: ")
		_, _ = bw.WriteString(httpDate())
		_, _ = bw.WriteString("\r\n")
	}
	if _, ok := h["Content-Type"]; !ok && !w.noBody && h.Get("Content-Encoding") == "" {
		if len(c.body) > 0 {
			sniff = c.body
		}
		if len(sniff) > 0 {
			_, _ = bw.WriteString("Content-Type: ")
			_, _ = bw.WriteString(http.DetectContentType(sniff))
			_, _ = bw.WriteString("\r\n")
		}
	}
	if w.cl >= 0 && (!w.noBody || w.status == http.StatusNotModified) {
		_, _ = bw.WriteString("Content-Length: ")
		_, _ = bw.WriteString(strconv.FormatInt(w.cl, 10))
		_, _ = bw.WriteString("\r\n")
	}
	if w.chunked {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.closeAfter {
		_, _ = bw.WriteString("Connection: close\r\n")
	} else if w.req.ProtoMinor == 0 {
		_, _ = bw.WriteString("Connection: keep-alive\r\n")
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		w.err = err
	}
	if len(c.body) > 0 {
		if !w.head {
			_, _ = w.writeBody(c.body)
		}
		c.body = c.body[:0]
	}
}

// finish completes the answer once the handler has returned.
func (w *response) finish() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(true, nil)
	}
	if w.chunked && w.err == nil {
		_, _ = w.c.bw.WriteString("0\r\n")
		if w.trailers || w.hasPrefixedTrailers() {
			_ = w.trailerHeader().Write(w.c.bw)
		}
		_, _ = w.c.bw.WriteString("\r\n")
	}
	if w.cl >= 0 && w.written < w.cl && !w.head && !w.noBody {
		w.closeAfter = true // cut short: only closing tells the caller
	}
	if w.err != nil {
		return w.err
	}
	return w.c.bw.Flush()
}

// FlushError sends the head and what is written so far (in a chunk when
// the length is unknown), and starts watching for the caller leaving.
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(false, nil)
	}
	if w.err != nil {
		return w.err
	}
	if err := w.c.bw.Flush(); err != nil {
		w.err = err
		return err
	}
	w.c.startWatch()
	return nil
}

func (w *response) Flush() { _ = w.FlushError() }

// Hijack hands the connection over: the server neither writes to nor
// closes it afterwards. The reader holds what the caller sent after the
// request's head.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c := w.c
	if w.headSent {
		if err := c.bw.Flush(); err != nil {
			return nil, nil, err
		}
	}
	c.mu.Lock()
	c.timer.Stop()
	c.hijacked = true // a watch cannot start from here on
	c.mu.Unlock()
	c.stopWatch()
	w.hijacked = true
	c.state.Store(stateHijacked)
	c.srv.trackConn(c, false)
	_ = c.rwc.SetDeadline(time.Time{})
	return c.rwc, bufio.NewReadWriter(c.br, c.bw), nil
}

// SetReadDeadline, SetWriteDeadline and EnableFullDuplex serve
// http.ResponseController. Reading the body while answering is always
// allowed here.
func (w *response) SetReadDeadline(t time.Time) error  { return w.c.rwc.SetReadDeadline(t) }
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rwc.SetWriteDeadline(t) }
func (w *response) EnableFullDuplex() error            { return nil }

// excludeOwn are the headers the server writes itself, from what the
// handler set and did.
var excludeOwn = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Connection": true}

// declaresTrailers reports whether the handler has declared trailers
// (the Trailer header, or a key with http.TrailerPrefix).
func (w *response) declaresTrailers() bool {
	return len(w.header["Trailer"]) > 0 || w.hasPrefixedTrailers()
}

func (w *response) hasPrefixedTrailers() bool {
	for k := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// trailerExclusions are excludeOwn and the trailers' names.
func trailerExclusions(h http.Header) map[string]bool {
	ex := maps.Clone(excludeOwn)
	for _, v := range h["Trailer"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				ex[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			ex[k] = true
		}
	}
	return ex
}

// trailerHeader is the trailer section: the declared trailers' values as
// they are now, and the keys set with http.TrailerPrefix.
func (w *response) trailerHeader() http.Header {
	t := http.Header{}
	for _, v := range w.header["Trailer"] {
		for name := range strings.SplitSeq(v, ",") {
			if k := http.CanonicalHeaderKey(strings.TrimSpace(name)); k != "" {
				if vv, ok := w.header[k]; ok {
					t[k] = vv
				}
			}
		}
	}
	for k, vv := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && name != "" {
			t[http.CanonicalHeaderKey(name)] = vv
		}
	}
	return t
}

func writeStatusLine(bw *bufio.Writer, minor, code int) {
	if minor == 0 {
		_, _ = bw.WriteString("HTTP/1.0 ")
	} else {
		_, _ = bw.WriteString("HTTP/1.1 ")
	}
	_ = bw.WriteByte(byte('0' + code/100))
	_ = bw.WriteByte(byte('0' + code/10%10))
	_ = bw.WriteByte(byte('0' + code%10))
	_ = bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		_, _ = bw.WriteString(text)
	} else {
		_, _ = bw.WriteString("status code " + strconv.Itoa(code))
	}
	_, _ = bw.WriteString("\r\n")
}

// httpDate is the Date header's value, formatted once a second.
func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.unix == now.Unix() {
		return d.text
	}
	d := &cachedDate{unix: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

type cachedDate struct {
	unix int64
	text string
}

var dateCache atomic.Pointer[cachedDate]

// caller names the handler's line that called, for the log.
func caller() string {
	if _, file, line, ok := runtime.Caller(2); ok {
		return file + ":" + strconv.Itoa(line)
	}
	return "unknown"
}
