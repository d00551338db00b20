package http1_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPipelining(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, echo(nil))
		cl := ts.dial()
		cl.write("GET /one HTTP/1.1\r\n" + host + "\r\nPOST /two HTTP/1.1\r\n" + host + "Content-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\n" + host + "\r\n")
		for _, want := range []string{"/one", "/two", "/three"} {
			a := cl.answer("")
			if a.StatusCode != 200 || a.Header.Get("X-Path") != want {
				t.Errorf("answer %d for %q, want 200 for %s", a.StatusCode, a.Header.Get("X-Path"), want)
			}
		}
	})
}

func TestKeepAliveHTTP10(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hi") })

		cl := ts.dial()
		cl.write("GET / HTTP/1.0\r\n\r\n")
		if a := cl.answer(""); a.StatusCode != 200 || a.body != "hi" {
			t.Errorf("answer %d %q", a.StatusCode, a.body)
		}
		cl.wantClosed()

		cl = ts.dial()
		cl.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		a := cl.answer("")
		if a.StatusCode != 200 || a.body != "hi" || a.ContentLength != 2 {
			t.Errorf("answer %d %q (Content-Length %d), want 200 %q with Content-Length 2", a.StatusCode, a.body, a.ContentLength, "hi")
		}
		if a.Close {
			t.Fatalf("the answer to a keep-alive HTTP/1.0 request closes the connection")
		}
		cl.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if a := cl.answer(""); a.StatusCode != 200 {
			t.Errorf("second answer %d", a.StatusCode)
		}
	})
}

func TestConnectionClose(t *testing.T) {
	t.Parallel()
	t.Run("client", func(t *testing.T) {
		t.Parallel()
		forKinds(t, func(t *testing.T, k kind) {
			var p paths
			ts := startFunc(t, k, echo(&p))
			cl := ts.dial()
			cl.write("GET /one HTTP/1.1\r\n" + host + "Connection: close\r\n\r\nGET /two HTTP/1.1\r\n" + host + "\r\n")
			a := cl.answer("")
			if a.StatusCode != 200 || !a.Close {
				t.Errorf("answer %d, close %v: want 200 with Connection: close", a.StatusCode, a.Close)
			}
			cl.wantClosed()
			if s := p.list(); len(s) != 1 {
				t.Errorf("the handler saw %q, want /one only", s)
			}
		})
	})
	t.Run("handler", func(t *testing.T) {
		t.Parallel()
		forKinds(t, func(t *testing.T, k kind) {
			var p paths
			ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
				p.add(r.RequestURI)
				w.Header().Set("Connection", "close")
				_, _ = io.WriteString(w, "bye")
			})
			cl := ts.dial()
			cl.write("GET /one HTTP/1.1\r\n" + host + "\r\nGET /two HTTP/1.1\r\n" + host + "\r\n")
			if a := cl.answer(""); a.StatusCode != 200 || !a.Close {
				t.Errorf("answer %d, close %v: want 200 with Connection: close", a.StatusCode, a.Close)
			}
			cl.wantClosed()
			if s := p.list(); len(s) != 1 {
				t.Errorf("the handler saw %q, want /one only", s)
			}
		})
	})
}

// A small unread body is discarded and the connection reused; a huge one
// closes the connection rather than reading it all (or hanging).
func TestUnreadBody(t *testing.T) {
	t.Parallel()
	ignore := func(p *paths) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			p.add(r.RequestURI)
			w.Header().Set("X-Path", r.URL.Path)
			_, _ = io.WriteString(w, "ignored")
		}
	}
	for _, c := range []struct{ name, first string }{
		{"Content-Length", "POST /one HTTP/1.1\r\n" + host + "Content-Length: 10000\r\n\r\n" + strings.Repeat("x", 10000)},
		{"chunked", "POST /one HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n2710\r\n" + strings.Repeat("x", 10000) + "\r\n0\r\n\r\n"},
		{"Content-Length 200 KiB", "POST /one HTTP/1.1\r\n" + host + "Content-Length: 204800\r\n\r\n" + strings.Repeat("x", 200<<10)},
	} {
		t.Run("small "+c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				var p paths
				ts := startFunc(t, k, ignore(&p))
				cl := ts.dial()
				go func() { _, _ = io.WriteString(cl.conn, c.first+"GET /two HTTP/1.1\r\n"+host+"\r\n") }()
				for _, want := range []string{"/one", "/two"} {
					a := cl.answer("")
					if a.StatusCode != 200 || a.Header.Get("X-Path") != want {
						t.Errorf("answer %d for %q, want 200 for %s", a.StatusCode, a.Header.Get("X-Path"), want)
					}
				}
			})
		})
	}
	for _, c := range []struct{ name, head string }{
		{"Content-Length", "POST /one HTTP/1.1\r\n" + host + "Content-Length: 104857600\r\n\r\n"},
		{"chunked", "POST /one HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n6400000\r\n"},
	} {
		t.Run("huge "+c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				var p paths
				ts := startFunc(t, k, ignore(&p))
				cl := ts.dial()
				cl.write(c.head)
				// 1 MiB of the 100 MiB, then the client waits: the server must
				// not wait for the rest.
				go func() { _, _ = io.WriteString(cl.conn, strings.Repeat("x", 1<<20)) }()
				a := cl.answer("")
				if a.StatusCode != 200 || a.body != "ignored" {
					t.Errorf("answer %d %q, want 200 %q", a.StatusCode, a.body, "ignored")
				}
				cl.wantClosed()
			})
		})
	}
	// A client that sent a part of a big body and waits for the answer
	// before sending more (or sends slowly) gets it at once: the server
	// does not wait for bytes it would only drop.
	t.Run("huge Content-Length, client waits", func(t *testing.T) {
		t.Parallel()
		forKinds(t, func(t *testing.T, k kind) {
			var p paths
			ts := startFunc(t, k, ignore(&p))
			cl := ts.dial()
			cl.write("POST /one HTTP/1.1\r\n" + host + "Content-Length: 104857600\r\n\r\n" + strings.Repeat("x", 1024))
			a := cl.answer("")
			if a.StatusCode != 200 || a.body != "ignored" || !a.Close {
				t.Errorf("answer %d %q (close %v), want 200 %q with Connection: close", a.StatusCode, a.body, a.Close, "ignored")
			}
			cl.wantClosed()
		})
	})
}

// A head and body that arrive a byte at a time are read as when they
// arrive at once.
func TestRequestInPieces(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := startFunc(t, k, echo(nil))
		cl := ts.dial()
		raw := "POST /one HTTP/1.1\r\n" + host + "X-Long: " + strings.Repeat("v", 6000) + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" +
			"GET /two HTTP/1.1\r\n" + host + "\r\n"
		go func() {
			for i := range len(raw) {
				if _, err := cl.conn.Write([]byte{raw[i]}); err != nil {
					return
				}
			}
		}()
		for _, want := range []string{"/one", "/two"} {
			a := cl.answer("")
			if a.StatusCode != 200 || a.Header.Get("X-Path") != want {
				t.Errorf("answer %d for %q, want 200 for %s", a.StatusCode, a.Header.Get("X-Path"), want)
			}
		}
	})
}

// A request pipelined while a handler runs long (so the server may be
// watching the connection) is served next, and does not cancel the
// running request's context.
func TestPipelinedDuringLongHandler(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		entered := make(chan struct{}, 1)
		release := make(chan struct{})
		ctxErr := make(chan error, 1)
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Path", r.URL.Path)
			if r.URL.Path == "/slow" {
				entered <- struct{}{}
				<-release
				ctxErr <- r.Context().Err()
			}
			_, _ = io.WriteString(w, "done")
		})
		cl := ts.dial()
		cl.write("GET /slow HTTP/1.1\r\n" + host + "\r\n")
		recv(t, entered, "slow handler")
		<-time.After(500 * time.Millisecond) // long enough for the server to watch the connection
		cl.write("GET /two HTTP/1.1\r\n" + host + "\r\n")
		<-time.After(100 * time.Millisecond) // for the watch to read the new request's first byte
		close(release)
		if err := recv(t, ctxErr, "context state"); err != nil {
			t.Errorf("the running request's context: %v, want not cancelled", err)
		}
		for _, want := range []string{"/slow", "/two"} {
			a := cl.answer("")
			if a.StatusCode != 200 || a.Header.Get("X-Path") != want || a.body != "done" {
				t.Errorf("answer %d %q for %q, want 200 for %s", a.StatusCode, a.body, a.Header.Get("X-Path"), want)
			}
		}
	})
}
