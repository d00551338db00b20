package http1_test

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"testing"
)

func TestContextCancelledAfterHandler(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, k kind) {
		ctxs := make(chan context.Context, 1)
		ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
			ctxs <- r.Context()
			_, _ = io.WriteString(w, "x")
		})
		cl := ts.dial()
		cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
		cl.answer("")
		ctx := recv(t, ctxs, "context")
		recv(t, ctx.Done(), "cancellation of the request's context after the handler returned")
	})
}

// A handler waiting on its request's context is released when the client
// goes away, whether it has flushed (an SSE stream) or not.
func TestContextCancelledOnClientClose(t *testing.T) {
	t.Parallel()
	for _, flush := range []bool{true, false} {
		name := "not flushed"
		if flush {
			name = "flushed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			forKinds(t, func(t *testing.T, k kind) {
				waiting := make(chan struct{})
				released := make(chan struct{})
				ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
					if flush {
						_, _ = io.WriteString(w, "data: x\n\n")
						_ = http.NewResponseController(w).Flush()
					}
					close(waiting)
					<-r.Context().Done()
					close(released)
				})
				cl := ts.dial()
				cl.write("GET / HTTP/1.1\r\n" + host + "\r\n")
				recv(t, waiting, "handler")
				if flush {
					if _, err := http.ReadResponse(cl.br, nil); err != nil {
						t.Fatal(err)
					}
				}
				_ = cl.conn.Close()
				recv(t, released, "release of the handler after the client closed")
			})
		})
	}
}

// requestFields is what a handler sees of a request.
type requestFields struct {
	Method, Host, RequestURI string
	Scheme, URLHost, Path    string
	RawPath, RawQuery        string
	Proto                    string
	ProtoMajor, ProtoMinor   int
	ContentLength            int64
	TransferEncoding         []string
	Close                    bool
	Header                   http.Header
	Body                     string
	RemoteAddr               string
}

// Ours gives a handler the same request as net/http does for the same bytes.
func TestRequestFields(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, raw string }{
		{"origin-form with query", "GET /p/a%2Fb?q=1&r=%20&q=2 HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"absolute-form", "GET http://other.example:8080/abs/x?y=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"absolute-form https", "GET https://other.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"chunked", "POST /c HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{"Content-Length and close", "PUT /l HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"},
		{"HTTP/1.0", "GET /ten HTTP/1.0\r\n\r\n"},
		{"HTTP/1.0 keep-alive", "GET /ten HTTP/1.0\r\nHost: h.example\r\nConnection: keep-alive\r\n\r\n"},
		{"dots and slashes", "GET //a//b/../c/./d HTTP/1.1\r\nHost: EXAMPLE.com:80\r\n\r\n"},
		{"repeated headers", "GET /h HTTP/1.1\r\nHost: example.com\r\nfoo-bar: 1\r\nFOO-BAR:  2 \r\nCookie: a=1\r\nCookie: b=2\r\nX-Empty:\r\n\r\n"},
		{"extension method", "PURGE /x HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var got []requestFields
			for _, k := range kinds {
				fields := make(chan requestFields, 1)
				ts := startFunc(t, k, func(w http.ResponseWriter, r *http.Request) {
					b, _ := io.ReadAll(r.Body)
					fields <- requestFields{
						Method: r.Method, Host: r.Host, RequestURI: r.RequestURI,
						Scheme: r.URL.Scheme, URLHost: r.URL.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
						Proto: r.Proto, ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor,
						ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding, Close: r.Close,
						Header: r.Header, Body: string(b), RemoteAddr: r.RemoteAddr,
					}
				})
				cl := ts.dial()
				cl.write(c.raw)
				f := recv(t, fields, k.name+"'s request")
				if f.RemoteAddr != cl.conn.LocalAddr().String() {
					t.Errorf("%s: RemoteAddr %q, want the client's %q", k.name, f.RemoteAddr, cl.conn.LocalAddr())
				}
				f.RemoteAddr = ""
				got = append(got, f)
			}
			if !reflect.DeepEqual(got[0], got[1]) {
				t.Errorf("the handlers saw different requests:\n%s: %+v\n%s: %+v", kinds[0].name, got[0], kinds[1].name, got[1])
			}
		})
	}
}
