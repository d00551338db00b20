package http1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkServer is one keep-alive request and its small answer, over a
// real TCP connection, through this server and through net/http's with
// the same settings: the server's own cost per request (the client's is
// a raw write and read).
func BenchmarkServer(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"output":{"id":"item_1","name":"plugbench","price":1234}}`)
	})
	servers := []struct {
		name  string
		serve func(net.Listener) (stop func())
	}{
		{"http1", func(l net.Listener) func() {
			s := &Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
			go func() { _ = s.Serve(l) }()
			return func() { _ = s.Close() }
		}},
		{"net-http", func(l net.Listener) func() {
			s := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
			go func() { _ = s.Serve(l) }()
			return func() { _ = s.Close() }
		}},
	}
	requests := map[string]string{
		"GET": "GET /projects/dev/sdk/proxy/custom/bench/v1/items/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" +
			"User-Agent: wrk\r\nAuthorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaC11c2VyIn0.c2lnbmF0dXJl\r\n\r\n",
		"POST": "POST /projects/dev/sdk/proxy/custom/bench/v1/items HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" +
			"Content-Type: application/json\r\nContent-Length: 60\r\n" +
			"Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaC11c2VyIn0.c2lnbmF0dXJl\r\n\r\n" +
			`{"name":"plugbench","price":1234,"tags":["a","b"],"ok":true}`,
	}
	for _, method := range []string{"GET", "POST"} {
		for _, srv := range servers {
			b.Run(method+"/"+srv.name, func(b *testing.B) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				stop := srv.serve(l)
				defer stop()
				c, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = c.Close() }()
				br := bufio.NewReader(c)
				req := []byte(requests[method])
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), `{"output"`) {
						b.Fatalf("%d %s", resp.StatusCode, body)
					}
				}
			})
		}
	}
}
