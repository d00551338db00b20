package http1_test

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAnswerFraming(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	for _, c := range []struct {
		name    string
		proto   string
		h       http.HandlerFunc
		body    string
		chunked bool // else Content-Length (HTTP/1.1) or close-delimited (HTTP/1.0)
	}{
		{name: "small", proto: "HTTP/1.1", body: "hello",
			h: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") }},
		{name: "small in pieces", proto: "HTTP/1.1", body: "hello world",
			h: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello")
				_, _ = io.WriteString(w, " world")
			}},
		{name: "empty", proto: "HTTP/1.1", body: "",
			h: func(w http.ResponseWriter, r *http.Request) {}},
		{name: "big", proto: "HTTP/1.1", body: big, chunked: true,
			h: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, big) }},
		{name: "big in pieces", proto: "HTTP/1.1", body: big, chunked: true,
			h: func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i < len(big); i += 1000 {
					_, _ = io.WriteString(w, big[i:min(i+1000, len(big))])
				}
			}},
		{name: "flushed", proto: "HTTP/1.1", body: "hello world", chunked: true,
			h: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello")
				_ = http.NewResponseController(w).Flush()
				_, _ = io.WriteString(w, " world")
			}},
		{name: "small HTTP/1.0", proto: "HTTP/1.0", body: "hello",
			h: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") }},
		{name: "big HTTP/1.0", proto: "HTTP/1.0", body: big,
			h: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, big) }},
		{name: "flushed HTTP/1.0", proto: "HTTP/1.0", body: "hello world",
			h: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello")
				_ = http.NewResponseController(w).Flush()
				_, _ = io.WriteString(w, " world")
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				ts := startFunc(t, k, c.h)
				cl := ts.dial()
				cl.write("GET / " + c.proto + "\r\n" + host + "\r\n")
				a := cl.answer("")
				if a.StatusCode != 200 || a.body != c.body {
					t.Fatalf("answer %d with %d bytes, want 200 with %d", a.StatusCode, len(a.body), len(c.body))
				}
				te := a.TransferEncoding
				switch {
				case c.chunked:
					if !slices.Equal(te, []string{"chunked"}) || a.Header.Get("Content-Length") != "" {
						t.Errorf("Transfer-Encoding %q, Content-Length %q: want chunked", te, a.Header.Get("Content-Length"))
					}
				case c.proto == "HTTP/1.0" && len(c.body) > 5:
					if te != nil || a.Header.Get("Content-Length") != "" || !a.Close {
						t.Errorf("Transfer-Encoding %q, Content-Length %q, close %v: want close-delimited", te, a.Header.Get("Content-Length"), a.Close)
					}
					cl.wantClosed()
				default:
					if te != nil || a.ContentLength != int64(len(c.body)) {
						t.Errorf("Transfer-Encoding %q, Content-Length %d: want Content-Length %d", te, a.ContentLength, len(c.body))
					}
				}
			})
		})
	}
}

func TestHandlerContentLength(t *testing.T) {
	t.Parallel()
	t.Run("kept", func(t *testing.T) {
		t.Parallel()
		forKinds(t, func(t *testing.T, k kind) {
			ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "10000")
				for range 10 {
					_, _ = io.WriteString(w, strings.Repeat("x", 1000))
				}
			})
			cl := ts.dial()
			cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
			a := cl.answer("")
			if a.ContentLength != 10000 || a.TransferEncoding != nil || len(a.body) != 10000 {
				t.Errorf("Content-Length %d, Transfer-Encoding %q, %d bytes: want Content-Length 10000", a.ContentLength, a.TransferEncoding, len(a.body))
			}
		})
	})
	t.Run("written past", func(t *testing.T) {
		t.Parallel()
		forKinds(t, func(t *testing.T, k kind) {
			writeErr := make(chan error, 1)
			ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "5")
				_, _ = io.WriteString(w, "hello")
				_, err := io.WriteString(w, " world")
				writeErr <- err
			})
			cl := ts.dial()
			cl.write("GET / HTTP/1.1\r\n" + host + "\r\nGET /two HTTP/1.1\r\n" + host + "\r\n")
			if err := recv(t, writeErr, "Write's result"); !errors.Is(err, http.ErrContentLength) {
				t.Errorf("Write past Content-Length: %v, want http.ErrContentLength", err)
			}
			if a := cl.answer(""); a.body != "hello" {
				t.Errorf("body %q, want %q", a.body, "hello")
			}
			cl.wantClosed()
		})
	})
	t.Run("written short", func(t *testing.T) {
		t.Parallel()
		forKinds(t, func(t *testing.T, k kind) {
			ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "10")
				_, _ = io.WriteString(w, "hello")
			})
			cl := ts.dial()
			cl.write("GET / HTTP/1.1\r\n" + host + "\r\nGET /two HTTP/1.1\r\n" + host + "\r\n")
			a, err := cl.read("")
			if err != nil {
				t.Fatal(err)
			}
			// The client must not take the next answer for the rest.
			if a.bodyErr == nil {
				t.Errorf("the body %q was read whole, want it cut by the connection closing", a.body)
			}
		})
	})
}

func TestHEAD(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		h    http.HandlerFunc
		cl   string // the Content-Length the answer must have; "" for any
	}{
		{"with Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		}, "5"},
		{"without Content-Length", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") }, ""},
		{"big", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, strings.Repeat("x", 100000)) }, ""},
		{"flushed", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello")
			_ = http.NewResponseController(w).Flush()
			_, _ = io.WriteString(w, "hello")
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/two" {
						_, _ = io.WriteString(w, "two")
						return
					}
					w.Header().Set("X-Mine", "1")
					c.h(w, r)
				})
				cl := ts.dial()
				cl.write("HEAD / HTTP/1.1\r\n" + host + "\r\nGET /two HTTP/1.1\r\n" + host + "\r\n")
				a := cl.answer(http.MethodHead)
				if a.StatusCode != 200 || a.Header.Get("X-Mine") != "1" {
					t.Errorf("answer %d, X-Mine %q: want 200 with the handler's headers", a.StatusCode, a.Header.Get("X-Mine"))
				}
				if c.cl != "" && a.Header.Get("Content-Length") != c.cl {
					t.Errorf("Content-Length %q, want %q", a.Header.Get("Content-Length"), c.cl)
				}
				// Body bytes after the HEAD answer would be read as the next answer.
				if a := cl.answer(""); a.StatusCode != 200 || a.body != "two" {
					t.Errorf("the answer after HEAD's: %d %q, want 200 %q", a.StatusCode, a.body, "two")
				}
			})
		})
	}
}

func TestNoBodyStatuses(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusNoContent, http.StatusNotModified} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				writeErr := make(chan error, 1)
				ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/two" {
						_, _ = io.WriteString(w, "two")
						return
					}
					w.WriteHeader(status)
					_, err := io.WriteString(w, "body")
					writeErr <- err
				})
				cl := ts.dial()
				cl.write("GET / HTTP/1.1\r\n" + host + "\r\nGET /two HTTP/1.1\r\n" + host + "\r\n")
				if err := recv(t, writeErr, "Write's result"); !errors.Is(err, http.ErrBodyNotAllowed) {
					t.Errorf("Write after WriteHeader(%d): %v, want http.ErrBodyNotAllowed", status, err)
				}
				a := cl.answer("")
				if a.StatusCode != status || a.body != "" {
					t.Errorf("answer %d %q, want %d with no body", a.StatusCode, a.body, status)
				}
				for _, h := range []string{"Content-Length", "Transfer-Encoding"} {
					if v, ok := a.Header[h]; ok {
						t.Errorf("%s: %q, want none", h, v)
					}
				}
				if a.TransferEncoding != nil {
					t.Errorf("Transfer-Encoding %q, want none", a.TransferEncoding)
				}
				if a := cl.answer(""); a.StatusCode != 200 || a.body != "two" {
					t.Errorf("the next answer: %d %q, want 200 %q", a.StatusCode, a.body, "two")
				}
			})
		})
	}
}

func TestDateAndContentType(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/set":
				w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
				w.Header().Set("Content-Type", "x/y")
			case "/none":
				w.Header()["Content-Type"] = nil
			case "/empty":
				return
			}
			_, _ = io.WriteString(w, "<html><body>hi</body></html>")
		})
		cl := ts.dial()
		cl.write("GET /sniff HTTP/1.1\r\n" + host + "\r\nGET /set HTTP/1.1\r\n" + host + "\r\nGET /none HTTP/1.1\r\n" + host + "\r\nGET /empty HTTP/1.1\r\n" + host + "\r\n")

		a := cl.answer("")
		if d, err := http.ParseTime(a.Header.Get("Date")); err != nil || time.Since(d).Abs() > time.Minute {
			t.Errorf("Date %q, want now", a.Header.Get("Date"))
		}
		if ct := a.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("sniffed Content-Type %q, want text/html; charset=utf-8", ct)
		}

		a = cl.answer("")
		if d := a.Header.Values("Date"); !slices.Equal(d, []string{"Mon, 02 Jan 2006 15:04:05 GMT"}) {
			t.Errorf("Date %q, want the handler's", d)
		}
		if ct := a.Header.Values("Content-Type"); !slices.Equal(ct, []string{"x/y"}) {
			t.Errorf("Content-Type %q, want the handler's", ct)
		}

		a = cl.answer("")
		if ct, ok := a.Header["Content-Type"]; ok {
			t.Errorf("Content-Type %q, want none (the handler set it to nil)", ct)
		}

		a = cl.answer("")
		if a.body != "" || a.ContentLength != 0 {
			t.Errorf("empty answer: %q, Content-Length %d", a.body, a.ContentLength)
		}
		if ct, ok := a.Header["Content-Type"]; ok {
			t.Errorf("Content-Type %q on an empty answer, want none", ct)
		}
	})
}

func TestWriteHeaderTwice(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "x")
		})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		if a := cl.answer(""); a.StatusCode != http.StatusCreated {
			t.Errorf("status %d, want 201 (the first)", a.StatusCode)
		}
	})
}

func TestEarlyHints(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Link", "</final>; rel=x")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "done")
		})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		a := cl.answer("")
		if a.StatusCode != http.StatusEarlyHints || a.Header.Get("Link") != "</style.css>; rel=preload; as=style" {
			t.Fatalf("first answer %d with Link %q, want 103 with the preload link", a.StatusCode, a.Header.Get("Link"))
		}
		a = cl.answer("")
		if a.StatusCode != 200 || a.body != "done" || a.Header.Get("Link") != "</final>; rel=x" {
			t.Errorf("final answer %d %q with Link %q", a.StatusCode, a.body, a.Header.Get("Link"))
		}
	})
}

// A flushed chunk reaches the client while the handler still runs.
func TestFlush(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		release := make(chan struct{})
		flushErr := make(chan error, 1)
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "first")
			flushErr <- http.NewResponseController(w).Flush()
			<-release
			_, _ = io.WriteString(w, "second")
		})
		defer close(release)
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		if err := recv(t, flushErr, "Flush's result"); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		res, err := http.ReadResponse(cl.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first" {
			t.Fatalf("read %q, %v before the handler returned, want %q", buf, err, "first")
		}
		release <- struct{}{}
		rest, err := io.ReadAll(res.Body)
		if err != nil || string(rest) != "second" {
			t.Errorf("rest %q, %v, want %q", rest, err, "second")
		}
	})
}

func TestResponseControllerSupported(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		errs := make(chan []error, 1)
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			errs <- []error{
				rc.SetReadDeadline(time.Now().Add(time.Minute)),
				rc.SetWriteDeadline(time.Now().Add(time.Minute)),
				rc.EnableFullDuplex(),
			}
		})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		for i, err := range recv(t, errs, "results") {
			if err != nil {
				t.Errorf("%s: %v, want nil", []string{"SetReadDeadline", "SetWriteDeadline", "EnableFullDuplex"}[i], err)
			}
		}
		cl.answer("")
	})
}

// A handler's write deadline cuts a write the client does not read.
func TestSetWriteDeadline(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		writeErr := make(chan error, 1)
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			chunk := strings.Repeat("x", 64<<10)
			for {
				if _, err := io.WriteString(w, chunk); err != nil {
					writeErr <- err
					return
				}
			}
		})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		if err := recv(t, writeErr, "write error"); err == nil {
			t.Error("no error")
		}
	})
}

func TestHijack(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		type hijacked struct {
			extra string
			err   error
		}
		got := make(chan hijacked, 1)
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				got <- hijacked{err: err}
				return
			}
			// The server must neither write nor close after this: the
			// conversation goes on in another goroutine.
			go func() {
				defer func() { _ = conn.Close() }()
				extra := make([]byte, len("after the head"))
				_, err := io.ReadFull(brw, extra)
				got <- hijacked{string(extra), err}
				_, _ = io.WriteString(conn, "hello\n")
				line, err := bufio.NewReader(io.MultiReader(brw, conn)).ReadString('\n')
				if err == nil {
					_, _ = io.WriteString(conn, "echo "+line)
				}
			}()
		})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "Upgrade: x\r\n\r\nafter the head")
		h := recv(t, got, "hijack")
		if h.err != nil || h.extra != "after the head" {
			t.Fatalf("the hijacked reader gave %q, %v, want %q", h.extra, h.err, "after the head")
		}
		cl.write("ping\n")
		if rest := cl.wantEnd(); rest != "hello\necho ping\n" {
			t.Errorf("the client got %q, want %q", rest, "hello\necho ping\n")
		}
	})
}

func TestPanic(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/panic":
				_, _ = io.WriteString(w, "partial")
				panic("boom in the handler")
			case "/abort":
				panic(http.ErrAbortHandler)
			case "/flushed":
				_, _ = io.WriteString(w, "partial")
				_ = http.NewResponseController(w).Flush()
				panic(http.ErrAbortHandler)
			}
			_, _ = io.WriteString(w, "fine")
		})
		for _, path := range []string{"/panic", "/abort"} {
			cl := ts.dial()
			cl.write("GET " + path + " HTTP/1.1\r\n" + host + "\r\n")
			if rest := cl.wantEnd(); rest != "" && !strings.HasPrefix(rest, "HTTP/1.1 500 ") {
				t.Errorf("%s: the client got %q, want nothing or a 500", path, rest)
			}
			if path == "/panic" && !ts.log.waitFor("boom in the handler") {
				t.Errorf("the panic was not logged; the log: %q", ts.log.String())
			}
		}
		// A panic after the head went out must not end the body cleanly:
		// the client has to see it cut.
		cl := ts.dial()
		cl.write("GET /flushed HTTP/1.1\r\n" + host + "\r\n")
		if a, err := cl.read(""); err != nil || a.bodyErr == nil {
			t.Errorf("after a panic mid-answer, the client read the answer whole (%v)", err)
		}
		cl = ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		if a := cl.answer(""); a.body != "fine" {
			t.Errorf("after the panics, %q, want %q", a.body, "fine")
		}
		if l := ts.log.String(); strings.Count(l, "boom in the handler") != 1 || strings.Contains(l, http.ErrAbortHandler.Error()) {
			t.Errorf("want the panic logged once and http.ErrAbortHandler's not at all; the log: %q", l)
		}
	})
}

// A handler cannot split the answer with CR or LF in its headers: they do
// not reach the wire as a header of their own.
func TestAnswerHeaderInjection(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Value", "a\r\nSet-Cookie: value=1")
			w.Header().Set("X-Lf", "a\nSet-Cookie: lf=1")
			w.Header()["X-Name\r\nSet-Cookie: name=1\r\nX"] = []string{"v"}
			w.Header()["Bad Name"] = []string{"v"}
			_, _ = io.WriteString(w, "body")
		})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\nGET / HTTP/1.1\r\n" + host + "\r\n")
		for range 2 {
			a := cl.answer("")
			if c := a.Header.Values("Set-Cookie"); len(c) > 0 {
				t.Errorf("injected Set-Cookie: %q", c)
			}
			if _, ok := a.Header["Bad Name"]; ok {
				t.Errorf("a header name with a space reached the wire")
			}
			if a.StatusCode != 200 || a.body != "body" {
				t.Errorf("answer %d %q, want 200 %q", a.StatusCode, a.body, "body")
			}
		}
	})
}

// Trailers declared in the Trailer header, or set with http.TrailerPrefix,
// follow a chunked body.
func TestAnswerTrailers(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "Grpc-Status")
			_, _ = io.WriteString(w, "body")
			w.Header().Set("Grpc-Status", "0")
			w.Header().Set(http.TrailerPrefix+"X-Late", "late")
		})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		a := cl.answer("")
		if a.body != "body" || !slices.Equal(a.TransferEncoding, []string{"chunked"}) {
			t.Errorf("answer %q with Transfer-Encoding %q, want %q chunked", a.body, a.TransferEncoding, "body")
		}
		if a.Trailer.Get("Grpc-Status") != "0" || a.Trailer.Get("X-Late") != "late" {
			t.Errorf("trailers %v, want Grpc-Status: 0 and X-Late: late", a.Trailer)
		}
	})
}
