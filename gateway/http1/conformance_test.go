package http1_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// A request the server must refuse: an answer with one of the statuses, the
// handler not called, and the connection closed after it.
type refusal struct {
	name     string
	raw      string
	want     []int // ours
	netHTTP  []int // net/http's, when they differ from want
	stricter bool  // net/http serves it: asserted for ours only
}

const host = "Host: example.com\r\n"

// refusals is also the fuzz test's seed corpus.
var refusals = []refusal{
	// Request line.
	{name: "method not a token", raw: "G(T / HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "method empty", raw: " / HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "target relative", raw: "GET foo HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "target * for GET", raw: "GET * HTTP/1.1\r\n" + host + "\r\n", want: []int{400}, stricter: true},
	{name: "target with a space", raw: "GET /a b HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "target with two spaces before", raw: "GET  / HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "target with a control char", raw: "GET /a\x01b HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "target with a tab", raw: "GET /a\tb HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "target with DEL", raw: "GET /a\x7fb HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "target with a bare CR", raw: "GET /a\rb HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "target with NUL", raw: "GET /a\x00b HTTP/1.1\r\n" + host + "\r\n", want: []int{400}},
	{name: "CONNECT", raw: "CONNECT example.com:443 HTTP/1.1\r\n" + host + "\r\n", want: []int{400, 405}, stricter: true},
	{name: "version HTTP/1.2", raw: "GET / HTTP/1.2\r\n" + host + "\r\n", want: []int{505}, stricter: true},
	{name: "version HTTP/2.0", raw: "GET / HTTP/2.0\r\n" + host + "\r\n", want: []int{505}, netHTTP: []int{400, 505}},
	{name: "version HTTP/0.9", raw: "GET / HTTP/0.9\r\n" + host + "\r\n", want: []int{505}, netHTTP: []int{400, 505}},
	{name: "version HTTP/3.0", raw: "GET / HTTP/3.0\r\n" + host + "\r\n", want: []int{505}, netHTTP: []int{400, 505}},
	{name: "version HTTP/1.10", raw: "GET / HTTP/1.10\r\n" + host + "\r\n", want: []int{400, 505}},
	{name: "version lower case", raw: "GET / http/1.1\r\n" + host + "\r\n", want: []int{400, 505}},
	{name: "version with a trailing space", raw: "GET / HTTP/1.1 \r\n" + host + "\r\n", want: []int{400, 505}},
	{name: "version missing", raw: "GET /\r\n" + host + "\r\n", want: []int{400, 505}},
	{name: "garbage line", raw: "hello\r\n\r\n", want: []int{400}},
	{name: "binary line", raw: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", want: []int{400}},

	// Header lines.
	{name: "header name with a space", raw: "GET / HTTP/1.1\r\n" + host + "Bad Name: x\r\n\r\n", want: []int{400}},
	{name: "header name not a token", raw: "GET / HTTP/1.1\r\n" + host + "Bad(Name): x\r\n\r\n", want: []int{400}},
	{name: "header space before colon", raw: "GET / HTTP/1.1\r\n" + host + "Foo : x\r\n\r\n", want: []int{400}},
	{name: "header tab before colon", raw: "GET / HTTP/1.1\r\n" + host + "Foo\t: x\r\n\r\n", want: []int{400}},
	{name: "header name empty", raw: "GET / HTTP/1.1\r\n" + host + ": x\r\n\r\n", want: []int{400}},
	{name: "header without colon", raw: "GET / HTTP/1.1\r\n" + host + "Foo\r\n\r\n", want: []int{400}},
	{name: "header value with a control char", raw: "GET / HTTP/1.1\r\n" + host + "Foo: a\x01b\r\n\r\n", want: []int{400}},
	{name: "header value with NUL", raw: "GET / HTTP/1.1\r\n" + host + "Foo: a\x00b\r\n\r\n", want: []int{400}},
	{name: "header value with DEL", raw: "GET / HTTP/1.1\r\n" + host + "Foo: a\x7fb\r\n\r\n", want: []int{400}},
	{name: "header value with a bare CR", raw: "GET / HTTP/1.1\r\n" + host + "Foo: a\rb\r\n\r\n", want: []int{400}},
	{name: "header obs-fold", raw: "GET / HTTP/1.1\r\n" + host + "Foo: a\r\n b\r\n\r\n", want: []int{400}, stricter: true},
	{name: "header obs-fold with a tab", raw: "GET / HTTP/1.1\r\n" + host + "Foo: a\r\n\tb\r\n\r\n", want: []int{400}, stricter: true},
	{name: "header value ends with a bare CR", raw: "GET / HTTP/1.1\r\n" + host + "Foo: a\r\r\n\r\n", want: []int{400}},
	{name: "header name with NUL", raw: "GET / HTTP/1.1\r\n" + host + "Fo\x00o: a\r\n\r\n", want: []int{400}},
	{name: "header name with a bare CR", raw: "GET / HTTP/1.1\r\n" + host + "Fo\ro: a\r\n\r\n", want: []int{400}},
	{name: "first header starts with a space", raw: "GET / HTTP/1.1\r\n " + host + "\r\n", want: []int{400}},

	// Host.
	{name: "HTTP/1.1 without Host", raw: "GET / HTTP/1.1\r\n\r\n", want: []int{400}},
	{name: "two Host headers", raw: "GET / HTTP/1.1\r\n" + host + host + "\r\n", want: []int{400}},
	{name: "two different Host headers", raw: "GET / HTTP/1.1\r\n" + host + "Host: evil.example\r\n\r\n", want: []int{400}},
	{name: "two Host headers, different case", raw: "GET / HTTP/1.1\r\n" + host + "host: evil.example\r\n\r\n", want: []int{400}},
	{name: "Host with a space", raw: "GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", want: []int{400}},
	{name: "Host with a quote", raw: "GET / HTTP/1.1\r\nHost: exa\"mple.com\r\n\r\n", want: []int{400}},

	// Content-Length and Transfer-Encoding.
	{name: "Content-Length not digits", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: abc\r\n\r\n", want: []int{400}},
	{name: "Content-Length negative", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: -5\r\n\r\nhello", want: []int{400}},
	{name: "Content-Length with a plus", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\nhello", want: []int{400}},
	{name: "Content-Length hex", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 0x5\r\n\r\nhello", want: []int{400}},
	{name: "Content-Length overflows", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999\r\n\r\nhello", want: []int{400}},
	{name: "Content-Length twice, different", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", want: []int{400}},
	{name: "Content-Length twice, different case", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\ncontent-length: 6\r\n\r\nhello!", want: []int{400}},
	{name: "Content-Length list, different", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 6\r\n\r\nhello!", want: []int{400}},
	{name: "Content-Length empty", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: \r\n\r\n", want: []int{400}},
	{name: "Transfer-Encoding gzip", raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", want: []int{400, 501}, netHTTP: []int{501}},
	{name: "Transfer-Encoding identity", raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", want: []int{400, 501}, netHTTP: []int{501}},
	{name: "Transfer-Encoding gzip, chunked", raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", want: []int{400, 501}, netHTTP: []int{501}},
	{name: "Transfer-Encoding chunked twice", raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: []int{400, 501}, netHTTP: []int{501}},
	{name: "Transfer-Encoding xchunked", raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", want: []int{400, 501}, netHTTP: []int{501}},
	{name: "Transfer-Encoding and Content-Length", raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: []int{400}, stricter: true},
	{name: "Transfer-Encoding in HTTP/1.0", raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: []int{400}, stricter: true},

	// Expect.
	{name: "Expect other than 100-continue", raw: "POST / HTTP/1.1\r\n" + host + "Expect: 200-ok\r\nContent-Length: 5\r\n\r\nhello", want: []int{417}},
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				want := c.want
				if !k.ours {
					if c.stricter {
						t.Skip("ours is stricter than net/http here")
					}
					if c.netHTTP != nil {
						want = c.netHTTP
					}
				}
				var p paths
				ts := startFunc(t, k, echo(&p))
				cl := ts.dial()
				cl.write(c.raw)
				a := cl.answer("")
				if !slices.Contains(want, a.StatusCode) {
					t.Errorf("status %d, want one of %v (body %q)", a.StatusCode, want, a.body)
				}
				cl.wantClosed()
				if s := p.list(); len(s) > 0 {
					t.Errorf("the handler was called for %q", s)
				}
			})
		})
	}
}

// Requests both servers must serve.
var acceptable = []struct{ name, raw string }{
	{"tab in a header value", "GET / HTTP/1.1\r\n" + host + "Foo: a\tb\r\n\r\n"},
	{"obs-text in a header value", "GET / HTTP/1.1\r\n" + host + "Foo: caf\xc3\xa9\r\n\r\n"},
	{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n"},
	{"OPTIONS *", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n"},
	{"absolute-form", "GET http://example.com/p?q=1 HTTP/1.1\r\n" + host + "\r\n"},
	{"Host with a port", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"},
	{"Host IPv6", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
	{"header without a space after the colon", "GET / HTTP/1.1\r\n" + host + "Foo:x\r\n\r\n"},
	{"Content-Length 0", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n"},
	{"chunked with extensions and trailers", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0;c\r\nT: x\r\n\r\n"},
}

func TestAcceptable(t *testing.T) {
	t.Parallel()
	for _, c := range acceptable {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				ts := startFunc(t, k, echo(nil))
				cl := ts.dial()
				cl.write(c.raw)
				if a := cl.answer(""); a.StatusCode/100 != 2 {
					t.Errorf("status %d, want 2xx (body %q)", a.StatusCode, a.body)
				}
			})
		})
	}
}

// net/http allows MaxHeaderBytes plus 4 KiB of slack; ours may be exact. A
// head well over both is refused with 431; one well under is served.
func TestMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		var p paths
		ts := start(t, k, config{Handler: echo(&p), MaxHeaderBytes: 1024})

		cl := ts.dial()
		cl.write("GET /small HTTP/1.1\r\n" + host + "X-Pad: " + strings.Repeat("a", 700) + "\r\n\r\n")
		if a := cl.answer(""); a.StatusCode != 200 {
			t.Errorf("a 0.8 KiB head: status %d, want 200", a.StatusCode)
		}

		cl = ts.dial()
		cl.write("GET /big HTTP/1.1\r\n" + host + "X-Pad: " + strings.Repeat("a", 16<<10) + "\r\n\r\n")
		a := cl.answer("")
		if a.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a 16 KiB head: status %d, want 431", a.StatusCode)
		}
		cl.wantClosed()

		// Many small headers count as much as one big one.
		cl = ts.dial()
		var b strings.Builder
		for i := range 1000 {
			fmt.Fprintf(&b, "X-H%d: v\r\n", i)
		}
		cl.write("GET /many HTTP/1.1\r\n" + host + b.String() + "\r\n")
		if a := cl.answer(""); a.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("1000 headers: status %d, want 431", a.StatusCode)
		}
		cl.wantClosed()
		// A long request line counts too (ours may say 414).
		cl = ts.dial()
		cl.write("GET /" + strings.Repeat("a", 16<<10) + " HTTP/1.1\r\n" + host + "\r\n")
		if a := cl.answer(""); a.StatusCode != http.StatusRequestHeaderFieldsTooLarge && !(k.ours && a.StatusCode == http.StatusRequestURITooLong) {
			t.Errorf("a 16 KiB request line: status %d, want 431", a.StatusCode)
		}
		cl.wantClosed()
		if s := p.list(); !slices.Equal(s, []string{"/small"}) {
			t.Errorf("the handler saw %q, want only /small", s)
		}
	})
}

// With MaxHeaderBytes 0 the limit is http.DefaultMaxHeaderBytes (1 MiB).
func TestMaxHeaderBytesDefault(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		var p paths
		ts := startFunc(t, k, echo(&p))
		cl := ts.dial()
		cl.write("GET /ok HTTP/1.1\r\n" + host + "X-Pad: " + strings.Repeat("a", 900<<10) + "\r\n\r\n")
		if a := cl.answer(""); a.StatusCode != 200 {
			t.Errorf("a 900 KiB head: status %d, want 200", a.StatusCode)
		}
		cl = ts.dial()
		go func() {
			_, _ = io.WriteString(cl.conn, "GET /big HTTP/1.1\r\n"+host+"X-Pad: "+strings.Repeat("a", 1100<<10)+"\r\n\r\n")
		}()
		if a := cl.answer(""); a.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a 1.1 MiB head: status %d, want 431", a.StatusCode)
		}
		cl.wantClosed()
		if s := p.list(); !slices.Equal(s, []string{"/ok"}) {
			t.Errorf("the handler saw %q, want only /ok", s)
		}
	})
}

func TestChunkedBody(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, echo(nil))
		cl := ts.dial()
		cl.write("POST /one HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" +
			"5\r\nhello\r\n6;name=value;x\r\n world\r\n9\r\n\r\n\x00binary\r\n0\r\nTrailer-One: a\r\nTrailer-Two: b\r\n\r\n" +
			"GET /two HTTP/1.1\r\n" + host + "\r\n")
		a := cl.answer("")
		if want := "hello world\r\n\x00binary"; a.StatusCode != 200 || a.body != want {
			t.Errorf("first answer: %d %q, want 200 %q", a.StatusCode, a.body, want)
		}
		a = cl.answer("")
		if a.StatusCode != 200 || a.Header.Get("X-Path") != "/two" {
			t.Errorf("second answer: %d for %q, want 200 for /two", a.StatusCode, a.Header.Get("X-Path"))
		}
	})
}

// A chunked body whose framing breaks: the handler's read fails, and nothing
// after it on the connection is taken for a request.
func TestChunkedBodyBroken(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, body string }{
		{"size not hex", "zz\r\nhello\r\n0\r\n\r\n"},
		{"size negative", "-5\r\nhello\r\n0\r\n\r\n"},
		{"size overflows", "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
		{"size with a space", "5 5\r\nhello\r\n0\r\n\r\n"},
		{"no CRLF after data", "5\r\nhelloXX0\r\n\r\n"},
		{"size with a bare LF", "5\nhello\r\n0\r\n\r\n"},
		{"extension of 16 KiB", "5;x=" + strings.Repeat("a", 16<<10) + "\r\nhello\r\n0\r\n\r\n"},
		{"trailer without colon", "5\r\nhello\r\n0\r\nnot a trailer\r\n\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				if c.name == "size with a bare LF" && !k.ours {
					t.Skip("net/http accepts a bare LF there; ours is stricter")
				}
				var p paths
				readErr := make(chan error, 1)
				ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
					p.add(r.RequestURI)
					_, err := io.ReadAll(r.Body)
					select {
					case readErr <- err:
					default:
					}
					if err != nil {
						w.WriteHeader(http.StatusBadRequest)
					}
				})
				cl := ts.dial()
				cl.write("POST /one HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" + c.body +
					"GET /second HTTP/1.1\r\n" + host + "\r\n")
				if err := recv(t, readErr, "body read"); err == nil {
					t.Errorf("the handler read the body without error")
				}
				rest := cl.wantEnd()
				if s := p.list(); !slices.Equal(s, []string{"/one"}) {
					t.Errorf("the handler saw %q, want only /one", s)
				}
				if n := strings.Count(rest, "HTTP/1.1 "); n > 1 {
					t.Errorf("%d answers on the connection, want at most 1: %q", n, rest)
				}
				// The handler's answer says the connection ends, so that a
				// client does not send another request on it.
				if rest != "" && !strings.Contains(rest, "\r\nConnection: close\r\n") {
					t.Errorf("the answer does not say Connection: close, yet the connection ends: %q", rest)
				}
			})
		})
	}
}

func TestExpectContinue(t *testing.T) {
	t.Parallel()
	t.Run("handler reads the body", func(t *testing.T) {
		t.Parallel()
		forKinds(t, func(t *testing.T, k kind) {
			ts := startFunc(t, k, echo(nil))
			cl := ts.dial()
			cl.write("POST / HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
			a := cl.answer("")
			if a.StatusCode != http.StatusContinue {
				t.Fatalf("status %d, want 100 before the body is sent", a.StatusCode)
			}
			cl.write("hello")
			a = cl.answer("")
			if a.StatusCode != 200 || a.body != "hello" {
				t.Errorf("final answer %d %q, want 200 %q", a.StatusCode, a.body, "hello")
			}
		})
	})
	t.Run("handler does not read the body", func(t *testing.T) {
		t.Parallel()
		forKinds(t, func(t *testing.T, k kind) {
			var p paths
			ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
				p.add(r.RequestURI)
				_, _ = io.WriteString(w, "no thanks")
			})
			cl := ts.dial()
			cl.write("POST /one HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
			a := cl.answer("")
			if a.StatusCode != 200 || a.body != "no thanks" {
				t.Fatalf("answer %d %q, want 200 %q (and no 100)", a.StatusCode, a.body, "no thanks")
			}
			if a.Close {
				// The client may send the body anyway (net/http's server
				// reads it before closing).
				_, _ = io.WriteString(cl.conn, "hello")
				cl.wantClosed()
				return
			}
			// Kept open: the server must then read the body and drop it.
			cl.write("hello" + "GET /two HTTP/1.1\r\n" + host + "\r\n")
			if a := cl.answer(""); a.StatusCode != 200 {
				t.Errorf("second answer %d, want 200", a.StatusCode)
			}
			if s := p.list(); !slices.Equal(s, []string{"/one", "/two"}) {
				t.Errorf("the handler saw %q, want /one then /two", s)
			}
		})
	})
}

// RFC 9110 section 10.1.1: a 100-continue expectation in an HTTP/1.0
// request is ignored, and one on a request without content needs no 100.
func TestExpectContinueIgnored(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, raw, body string }{
		{"HTTP/1.0", "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", "hello"},
		{"no content", "GET / HTTP/1.1\r\n" + host + "Expect: 100-continue\r\n\r\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				ts := startFunc(t, k, echo(nil))
				cl := ts.dial()
				cl.write(c.raw)
				if a := cl.answer(""); a.StatusCode != 200 || a.body != c.body {
					t.Errorf("answer %d %q, want 200 %q (and no 100)", a.StatusCode, a.body, c.body)
				}
			})
		})
	}
}

// Smuggling: the body ends where its framing says, and what follows is the
// next request.
func TestPipelinedAfterBody(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, first string }{
		{"Content-Length", "POST /one HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello"},
		{"chunked", "POST /one HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"Content-Length twice, same", "POST /one HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				var p paths
				ts := startFunc(t, k, echo(&p))
				cl := ts.dial()
				cl.write(c.first + "GET /two HTTP/1.1\r\n" + host + "\r\n")
				a := cl.answer("")
				if c.name == "Content-Length twice, same" && a.StatusCode == 400 && k.ours {
					cl.wantClosed() // refusing it is fine
					return
				}
				if a.StatusCode != 200 || a.body != "hello" || a.Header.Get("X-Path") != "/one" {
					t.Errorf("first answer %d %q for %q, want 200 %q for /one", a.StatusCode, a.body, a.Header.Get("X-Path"), "hello")
				}
				a = cl.answer("")
				if a.StatusCode != 200 || a.Header.Get("X-Path") != "/two" {
					t.Errorf("second answer %d for %q, want 200 for /two", a.StatusCode, a.Header.Get("X-Path"))
				}
				if s := p.list(); !slices.Equal(s, []string{"/one", "/two"}) {
					t.Errorf("the handler saw %q", s)
				}
			})
		})
	}
}

// Transfer-Encoding with Content-Length, in the shapes that make a front
// proxy and a server disagree: ours never serves two requests from it.
func TestSmugglingTEandCL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, raw string }{
		{"CL.TE", "POST /one HTTP/1.1\r\n" + host + "Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + host + "\r\n"},
		{"TE.CL", "POST /one HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2c\r\nGET /smuggled HTTP/1.1\r\n" + host + "\r\n\r\n0\r\n\r\n"},
		{"TE with a space", "POST /one HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + host + "\r\n"},
		{"TE obs-folded", "POST /one HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + host + "\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				if !k.ours {
					t.Skip("ours is stricter than net/http here")
				}
				var p paths
				ts := startFunc(t, k, echo(&p))
				cl := ts.dial()
				cl.write(c.raw)
				a := cl.answer("")
				if a.StatusCode != 400 {
					t.Errorf("status %d, want 400", a.StatusCode)
				}
				cl.wantEnd()
				if s := p.list(); len(s) > 0 {
					t.Errorf("the handler saw %q, want nothing", s)
				}
			})
		})
	}
}

// A handler that replaces the request's body without reading it: the
// body still on the wire is not taken for the next request.
func TestReplacedBodyStillFramed(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		var p paths
		next := echo(&p)
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.NoBody
			next(w, r)
		})
		cl := ts.dial()
		cl.write("POST /one HTTP/1.1\r\n" + host + "Content-Length: 45\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n" +
			"GET /two HTTP/1.1\r\n" + host + "\r\n")
		for _, want := range []string{"/one", "/two"} {
			if a := cl.answer(""); a.StatusCode != 200 || a.Header.Get("X-Path") != want {
				t.Errorf("answer %d for %q, want 200 for %s", a.StatusCode, a.Header.Get("X-Path"), want)
			}
		}
		if s := p.list(); !slices.Equal(s, []string{"/one", "/two"}) {
			t.Errorf("the handler saw %q", s)
		}
	})
}

// An old client's CRLF after a POST's body is not taken for a malformed
// request (RFC 9112 section 2.2), as net/http ignores it.
func TestCRLFAfterPost(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		var p paths
		ts := startFunc(t, k, echo(&p))
		cl := ts.dial()
		cl.write("POST /one HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello\r\nGET /two HTTP/1.1\r\n" + host + "\r\n")
		for _, want := range []string{"/one", "/two"} {
			if a := cl.answer(""); a.StatusCode != 200 || a.Header.Get("X-Path") != want {
				t.Errorf("answer %d for %q, want 200 for %s", a.StatusCode, a.Header.Get("X-Path"), want)
			}
		}
	})
}
