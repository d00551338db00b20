package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawUpstream is a TCP server that reads each request's head (and a
// Content-Length body) and answers with what answer returns for the n-th
// request on the connection; close after it when closeAfter says so.
type rawUpstream struct {
	ln    net.Listener
	conns atomic.Int32
}

func newRawUpstream(t *testing.T, answer func(conn, n int, head string) (reply string, closeAfter bool)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			id := int(u.conns.Add(1))
			go func() {
				defer func() { _ = c.Close() }()
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					var head strings.Builder
					head.WriteString(req.Method + " " + req.RequestURI + "\n")
					_ = req.Header.Write(&head)
					head.Write(body)
					reply, closeAfter := answer(id, n, head.String())
					if _, err := io.WriteString(c, reply); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return u
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

func get(t *testing.T, c *Client, ctx context.Context, url string, headerTimeout time.Duration) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.send(ctx, req, headerTimeout)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

const okReply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

// An idle connection the upstream closed is replaced once, for requests
// that can be sent again; the caller never sees the stale one.
func TestClientReplacesAClosedIdleConnection(t *testing.T) {
	// Each connection answers one request, then closes without saying so.
	up := newRawUpstream(t, func(_, _ int, _ string) (string, bool) { return okReply, true })
	c := NewClient(nil)
	defer c.CloseIdleConnections()
	for i := range 3 {
		if _, body, err := get(t, c, context.Background(), up.url()+"/x", 0); err != nil || body != "{}" {
			t.Fatalf("request %d: %q %v", i, body, err)
		}
		time.Sleep(20 * time.Millisecond) // the close reaches the pooled connection
	}
	// A body that can be had again is sent again.
	req, _ := http.NewRequest("POST", up.url()+"/x", strings.NewReader(`{"a":1}`))
	resp, err := c.send(context.Background(), req, 0)
	if err != nil {
		t.Fatalf("POST with GetBody on a stale connection: %v", err)
	}
	_, _ = io.ReadAll(resp.Body) // read to its end, the connection is pooled
	resp.Body.Close()
	if n := up.conns.Load(); n != 4 {
		t.Errorf("%d connections for 4 requests each on its own, want 4", n)
	}
	// One that cannot is not: the caller gets the error.
	time.Sleep(20 * time.Millisecond)
	req, _ = http.NewRequest("POST", up.url()+"/x", io.NopCloser(strings.NewReader(`{"a":1}`)))
	req.ContentLength = 7
	if _, err := c.send(context.Background(), req, 0); err == nil {
		t.Error("a body that cannot be sent again was sent again on a new connection")
	}
}

// api.timeout counts to the answer's headers only: late headers are a
// timeoutError; a slow body after headers in time arrives whole.
func TestClientHeaderTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			time.Sleep(300 * time.Millisecond)
		}
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		if r.URL.Path == "/slow-body" {
			for range 3 {
				time.Sleep(100 * time.Millisecond)
				_, _ = io.WriteString(w, "x")
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer up.Close()
	c := NewClient(nil)
	defer c.CloseIdleConnections()
	_, _, err := get(t, c, context.Background(), up.URL+"/late", 100*time.Millisecond)
	var te *timeoutError
	if !errors.As(err, &te) || te.after != 100*time.Millisecond {
		t.Fatalf("late headers: %v, want a timeoutError after 100ms", err)
	}
	if _, body, err := get(t, c, context.Background(), up.URL+"/slow-body", 100*time.Millisecond); err != nil || body != "xxx" {
		t.Fatalf("slow body: %q %v, want xxx", body, err)
	}
	// The caller's deadline ends the attempt with the context's error, not
	// the connection's (its deadline may fire a moment before the context's).
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		_, _, err := get(t, c, ctx, up.URL+"/late", time.Second)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("past the caller's deadline: %v, want context.DeadlineExceeded", err)
		}
	}
	// The caller going away ends the wait at once, with its own error.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, _, err := get(t, c, ctx, up.URL+"/late", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// Nothing a value rendered into a header can do adds a header or a
// request: such values are refused before anything is sent.
func TestClientRefusesHeaderInjection(t *testing.T) {
	up := newRawUpstream(t, func(_, _ int, _ string) (string, bool) { return okReply, false })
	c := NewClient(nil)
	defer c.CloseIdleConnections()
	for _, v := range []string{"k\r\nX-Injected: 1", "k\nGET /other HTTP/1.1", "k\x00"} {
		req, _ := http.NewRequest("GET", up.url()+"/x", nil)
		req.Header.Set("Authorization", "Bearer "+v)
		if _, err := c.send(context.Background(), req, 0); err == nil || !strings.Contains(err.Error(), "invalid header field value") {
			t.Errorf("%q: %v, want refused", v, err)
		}
	}
	// Nor can a space in the query end the request line early.
	req, _ := http.NewRequest("GET", up.url()+"/x", nil)
	req.URL.RawQuery = "a=1 HTTP/1.1\r\nX-Injected: 1"
	if _, err := c.send(context.Background(), req, 0); err == nil || !strings.Contains(err.Error(), "invalid request target") {
		t.Errorf("a space in the query: %v, want refused", err)
	}
	req.URL.RawQuery = "a=1 b"
	if _, err := c.send(context.Background(), req, 0); err == nil || !strings.Contains(err.Error(), "invalid request target") {
		t.Errorf("a space in the query: %v, want refused", err)
	}
	if n := up.conns.Load(); n != 0 {
		t.Errorf("%d connections opened for refused requests", n)
	}
}

// The answer's head is bounded; informational answers are skipped; bytes
// after an answer make its connection unfit for reuse.
func TestClientReadsAnswersStrictly(t *testing.T) {
	up := newRawUpstream(t, func(_, n int, head string) (string, bool) {
		switch {
		case strings.HasPrefix(head, "GET /huge"):
			return "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", true
		case strings.HasPrefix(head, "GET /hints"):
			return "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + okReply, false
		case strings.HasPrefix(head, "GET /extra"):
			return okReply + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false
		}
		return okReply, false
	})
	c := NewClient(nil)
	defer c.CloseIdleConnections()
	if _, _, err := get(t, c, context.Background(), up.url()+"/huge", 0); !errors.Is(err, errHeadTooLarge) {
		t.Errorf("a 2 MiB head: %v, want errHeadTooLarge", err)
	}
	resp, body, err := get(t, c, context.Background(), up.url()+"/hints", 0)
	if err != nil || resp.StatusCode != 200 || body != "{}" {
		t.Fatalf("after a 103: %v %q %v", resp, body, err)
	}
	before := up.conns.Load()
	if _, body, err := get(t, c, context.Background(), up.url()+"/extra", 0); err != nil || body != "{}" {
		t.Fatalf("extra bytes: %q %v", body, err)
	}
	if _, _, err := get(t, c, context.Background(), up.url()+"/next", 0); err != nil {
		t.Fatal(err)
	}
	if got := up.conns.Load() - before; got != 1 {
		t.Errorf("the connection with unsolicited bytes was reused (%d new connections, want 1)", got)
	}
}

// Bodies of unknown length go chunked and arrive whole; HTTPS upstreams
// are spoken to in HTTP/1.1 over TLS.
func TestClientChunkedBodiesAndTLS(t *testing.T) {
	var proto atomic.Value
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto + " " + strings.Join(r.TransferEncoding, ","))
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	defer up.Close()
	pool := x509.NewCertPool()
	pool.AddCert(up.Certificate())
	c := &Client{TLS: &tls.Config{RootCAs: pool}}
	defer c.CloseIdleConnections()
	body := strings.Repeat("0123456789", 10_000)
	req, _ := http.NewRequest("POST", up.URL+"/echo", io.NopCloser(strings.NewReader(body)))
	req.ContentLength = -1
	resp, err := c.send(context.Background(), req, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(got) != body {
		t.Fatalf("echo: %d bytes, %v; want %d bytes", len(got), err, len(body))
	}
	if p := proto.Load(); p != "HTTP/1.1 chunked" {
		t.Errorf("the upstream saw %v, want HTTP/1.1 chunked", p)
	}
}

// A connection idle for longer than idleCheckAfter is looked at before
// use: one the upstream closed is not used, so even a request whose body
// cannot be sent again goes out on a new connection.
func TestClientLooksAtLongIdleConnections(t *testing.T) {
	defer func(d time.Duration) { idleCheckAfter = d }(idleCheckAfter)
	idleCheckAfter = 0
	up := newRawUpstream(t, func(_, _ int, _ string) (string, bool) { return okReply, true })
	c := NewClient(nil)
	defer c.CloseIdleConnections()
	if _, body, err := get(t, c, context.Background(), up.url()+"/x", 0); err != nil || body != "{}" {
		t.Fatalf("first: %q %v", body, err)
	}
	time.Sleep(50 * time.Millisecond) // the upstream's close arrives
	req, _ := http.NewRequest("POST", up.url()+"/x", io.NopCloser(strings.NewReader(`{"a":1}`)))
	req.ContentLength = 7
	resp, err := c.send(context.Background(), req, 0)
	if err != nil {
		t.Fatalf("a body that cannot be sent again, after the upstream closed the idle connection: %v", err)
	}
	resp.Body.Close()
	if n := up.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	// An open idle connection passes the look and is reused.
	up2 := newRawUpstream(t, func(_, _ int, _ string) (string, bool) { return okReply, false })
	for range 3 {
		if _, _, err := get(t, c, context.Background(), up2.url()+"/x", 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := up2.conns.Load(); n != 1 {
		t.Errorf("%d connections to an upstream that keeps them open, want 1", n)
	}
}
