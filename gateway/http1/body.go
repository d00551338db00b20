package http1

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
)

// body is a request's body: Content-Length bytes or chunks, read from the
// connection's buffer.
type body struct {
	c         *conn
	w         *response
	mu        sync.Mutex
	remaining int64     // of Content-Length
	chunked   io.Reader // nil unless chunked
	err       error     // sticky: io.EOF at the end, or what went wrong
	closed    bool
}

var errBodyMalformed = errors.New("http1: malformed chunked request body")

// maxTrailerBytes bounds a chunked body's trailer section (net/http
// refuses one it cannot see the end of in its 4 KiB read buffer).
const maxTrailerBytes = 4000

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.readLocked(p)
}

func (b *body) readLocked(p []byte) (int, error) {
	b.c.writeContinue(b.w)
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	if b.chunked != nil {
		n, err = b.chunked.Read(p)
		if err == io.EOF {
			if terr := b.c.readTrailer(); terr != nil {
				err = terr
			}
		} else if err != nil && err != io.ErrUnexpectedEOF && !isTimeout(err) {
			err = errBodyMalformed
		}
	} else {
		if int64(len(p)) > b.remaining {
			p = p[:b.remaining]
		}
		n, err = b.c.br.Read(p)
		b.remaining -= int64(n)
		if b.remaining == 0 {
			err = io.EOF
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		b.err = err
		if err == io.EOF {
			b.c.mu.Lock()
			b.c.bodyDone = true
			b.c.mu.Unlock()
		} else {
			b.c.broken.Store(true)
		}
	}
	return n, err
}

// Close marks the body closed; the server reads what is left of it, or
// closes the connection, once the handler returns.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

func (b *body) done() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err != nil
}

// left is how many bytes of a Content-Length body are unread; -1 for a
// chunked body.
func (b *body) left() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chunked != nil {
		return -1
	}
	return b.remaining
}

// continueOwed reports whether the caller still waits for a 100 Continue
// (and so may never send the body).
func (b *body) continueOwed() bool {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	return b.c.expect
}

// discard reads and drops what is left of the body, up to maxDiscard, and
// reports whether it reached the end.
func (b *body) discard() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	buf := make([]byte, 4<<10)
	for total := 0; total <= maxDiscard; {
		if b.err != nil {
			return b.err == io.EOF
		}
		n, _ := b.readLocked(buf)
		total += n
	}
	return false
}

// readTrailer reads the trailer section after a chunked body's last chunk,
// up to its empty line, and drops it.
func (c *conn) readTrailer() error {
	limit := maxTrailerBytes
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return errBodyMalformed
			}
			return io.ErrUnexpectedEOF
		}
		if limit -= len(line); limit < 0 {
			return errBodyMalformed
		}
		s, ok := strings.CutSuffix(string(line), "\r\n")
		if !ok {
			return errBodyMalformed // the chunked framing's lines end in CRLF
		}
		if s == "" {
			return nil
		}
		if name, value, ok := strings.Cut(s, ":"); !ok || !isToken(name) || !validValue(strings.Trim(value, " \t")) {
			return errBodyMalformed
		}
	}
}
