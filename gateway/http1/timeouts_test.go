package http1_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const shortTimeout = 200 * time.Millisecond

// A client that sends half a head and stalls is cut off.
func TestReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		var p paths
		ts := start(t, k, config{Handler: echo(&p), ReadHeaderTimeout: shortTimeout})
		for _, half := range []string{"GET / HTTP/1.1\r\nHo", "G"} {
			cl := ts.dial()
			begun := time.Now()
			cl.write(half)
			rest := cl.wantEnd()
			if rest != "" && !strings.HasPrefix(rest, "HTTP/1.1 408 ") && !strings.HasPrefix(rest, "HTTP/1.1 400 ") {
				t.Errorf("after %q, the server sent %q, want nothing or a 408", half, rest)
			}
			if d := time.Since(begun); d < shortTimeout/2 {
				t.Errorf("after %q, closed after %v, before the timeout", half, d)
			}
		}
		// The timeout is for the head: a keep-alive connection's next
		// request gets it anew.
		cl := ts.dial()
		cl.write("GET /one HTTP/1.1\r\n" + host + "\r\n")
		cl.answer("")
		cl.write("GET /two HTTP/1.1\r\n")
		cl.wantEnd()
		if s := p.list(); len(s) != 1 {
			t.Errorf("the handler saw %q, want /one only", s)
		}
	})
}

// ReadHeaderTimeout runs from the head's first byte: a client that
// trickles a byte at a time does not extend it.
func TestReadHeaderTimeoutTrickle(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		var p paths
		ts := start(t, k, config{Handler: echo(&p), ReadHeaderTimeout: shortTimeout})
		cl := ts.dial()
		ended := make(chan struct{})
		go func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ended:
					return
				case <-tick.C:
					if _, err := io.WriteString(cl.conn, "X"); err != nil {
						return
					}
				}
			}
		}()
		cl.write("GET / HTTP/1.1\r\n" + host + "X-Slow: ")
		cl.wantEnd()
		close(ended)
		if s := p.list(); len(s) > 0 {
			t.Errorf("the handler saw %q", s)
		}
	})
}

// An idle keep-alive connection is closed after IdleTimeout, or after
// ReadTimeout when IdleTimeout is 0.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cfg  config
	}{
		{"IdleTimeout", config{IdleTimeout: shortTimeout}},
		{"ReadTimeout", config{ReadTimeout: shortTimeout}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				cfg := c.cfg
				cfg.Handler = echo(nil)
				ts := start(t, k, cfg)
				cl := ts.dial()
				cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
				cl.answer("")
				begun := time.Now()
				cl.wantClosed()
				if d := time.Since(begun); d < shortTimeout/2 {
					t.Errorf("closed after %v, before the timeout", d)
				}
			})
		})
	}
}

// ReadTimeout covers the body: a client that stalls in it fails the
// handler's read.
func TestReadTimeoutBody(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		readErr := make(chan error, 1)
		ts := start(t, k, config{ReadTimeout: shortTimeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			readErr <- err
		})})
		cl := ts.dial()
		cl.write("POST / HTTP/1.1\r\n" + host + "Content-Length: 10\r\n\r\nabc")
		if err := recv(t, readErr, "body read"); err == nil {
			t.Error("the body read did not fail")
		}
	})
}

// WriteTimeout cuts an answer the client does not read.
func TestWriteTimeout(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		writeErr := make(chan error, 1)
		ts := start(t, k, config{WriteTimeout: shortTimeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := strings.Repeat("x", 64<<10)
			for {
				if _, err := io.WriteString(w, chunk); err != nil {
					writeErr <- err
					return
				}
			}
		})})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		if err := recv(t, writeErr, "write error"); err == nil {
			t.Error("no error")
		}
	})
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		entered := make(chan struct{})
		release := make(chan struct{})
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(entered)
				<-release
			}
			_, _ = io.WriteString(w, "done "+r.URL.Path)
		})
		hookRan := make(chan struct{})
		ts.srv.RegisterOnShutdown(func() { close(hookRan) })

		idle := ts.dial()
		idle.write("GET /idle HTTP/1.1\r\n" + host + "\r\n")
		idle.answer("")

		busy := ts.dial()
		busy.write("GET /slow HTTP/1.1\r\n" + host + "\r\n")
		recv(t, entered, "slow handler")

		shutdown := make(chan error, 1)
		go func() { shutdown <- ts.srv.Shutdown(context.Background()) }()

		if err := recv(t, ts.served, "Serve's return"); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v, want http.ErrServerClosed", err)
		}
		ts.served <- nil // for the cleanup
		recv(t, hookRan, "RegisterOnShutdown func")
		idle.wantClosed()
		if c, err := net.DialTimeout("tcp", ts.addr, wait); err == nil {
			_ = c.Close()
			t.Error("the listener still accepts after Shutdown")
		}
		select {
		case err := <-shutdown:
			t.Fatalf("Shutdown returned %v with a request in flight", err)
		default:
		}

		close(release)
		a := busy.answer("")
		if a.StatusCode != 200 || a.body != "done /slow" {
			t.Errorf("the request in flight got %d %q, want 200 %q", a.StatusCode, a.body, "done /slow")
		}
		busy.wantClosed()
		if err := recv(t, shutdown, "Shutdown's return"); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
}

func TestShutdownContext(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		entered := make(chan struct{})
		release := make(chan struct{})
		defer close(release)
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
		})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		recv(t, entered, "handler")
		ctx, cancel := context.WithTimeout(context.Background(), shortTimeout)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestClose(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		entered := make(chan struct{})
		release := make(chan struct{})
		defer close(release)
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(entered)
				<-release
			}
		})
		idle := ts.dial()
		idle.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		idle.answer("")
		busy := ts.dial()
		busy.write("GET /slow HTTP/1.1\r\n" + host + "\r\n")
		recv(t, entered, "handler")
		if err := ts.srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := recv(t, ts.served, "Serve's return"); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v, want http.ErrServerClosed", err)
		}
		ts.served <- nil
		idle.wantClosed()
		busy.wantClosed()
	})
}

// A hijacked connection is the handler's: the server's timeouts no longer
// apply to it.
func TestHijackClearsDeadlines(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		hijacked := make(chan error, 1)
		ts := start(t, k, config{ReadHeaderTimeout: shortTimeout, ReadTimeout: shortTimeout, WriteTimeout: shortTimeout,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, brw, err := http.NewResponseController(w).Hijack()
				hijacked <- err
				if err != nil {
					return
				}
				go func() {
					defer func() { _ = conn.Close() }()
					line, err := brw.ReadString('\n')
					if err != nil {
						return
					}
					_, _ = io.WriteString(conn, "echo "+line)
				}()
			})})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		if err := recv(t, hijacked, "hijack"); err != nil {
			t.Fatal(err)
		}
		<-time.After(3 * shortTimeout) // past every timeout of the server's
		cl.write("ping\n")
		if rest := cl.wantEnd(); rest != "echo ping\n" {
			t.Errorf("got %q, want %q", rest, "echo ping\n")
		}
	})
}

// ReadHeaderTimeout is for the head only: a body that comes after it has
// passed is read (ReadTimeout, 0 here, bounds the body).
func TestReadHeaderTimeoutNotForBody(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ts := start(t, k, config{Handler: echo(nil), ReadHeaderTimeout: shortTimeout})
		cl := ts.dial()
		cl.write("POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhe")
		<-time.After(3 * shortTimeout) // past the head's timeout
		cl.write("llo")
		if a := cl.answer(""); a.StatusCode != 200 || a.body != "hello" {
			t.Errorf("answer %d %q, want 200 %q", a.StatusCode, a.body, "hello")
		}
	})
}
