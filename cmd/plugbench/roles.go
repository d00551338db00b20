package main

import (
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The servers plugbench re-executes itself as. Each reads the credential
// the upstream requires from this variable, so that it is not on a command
// line.
const upstreamKeyEnv = "PLUGBENCH_UPSTREAM_KEY"

// Bodies of the benchmark requests: an API answering a small JSON object,
// and a small JSON object posted (and echoed back).
var (
	getBody  = []byte(`{"id":"item_1","name":"plugbench","price":1234,"tags":["a","b"],"available":true}`)
	postBody = `{"name":"plugbench","quantity":3,"note":"a small JSON body"}`
)

// apiPath is the upstream path every target is asked for.
const apiPath = "/v1/items/1"

// roles are the servers plugbench runs as when re-executed.
var roles = map[string]bool{"upstream": true, "bareproxy": true, "tunedproxy": true, "jwtproxy": true, "pace": true}

// runRole serves one role until killed.
func runRole(name string, args []string) int {
	if name == "pace" {
		return runPacer(args, os.Stdout, os.Stderr)
	}
	fs := flag.NewFlagSet("plugbench "+name, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := fs.String("upstream", "", "proxies: URL of the upstream")
	publicKey := fs.String("public-key", "", "jwtproxy: PEM file of the RSA public key that signs user tokens")
	audience := fs.String("audience", "dev", "jwtproxy: required aud of user tokens")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	key := os.Getenv(upstreamKeyEnv)
	if key == "" {
		fmt.Fprintf(os.Stderr, "plugbench %s: set %s to the upstream credential\n", name, upstreamKeyEnv)
		return 2
	}
	var h http.Handler
	var err error
	switch name {
	case "upstream":
		h = upstreamHandler(key)
	case "bareproxy":
		h, err = proxyHandler(*upstream, key)
	case "tunedproxy":
		h, err = tunedProxyHandler(*upstream, key)
	case "jwtproxy":
		if h, err = proxyHandler(*upstream, key); err == nil {
			h, err = verifyingHandler(h, *publicKey, *audience)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbench %s: %v\n", name, err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbench %s: %v\n", name, err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	err = srv.Serve(ln)
	fmt.Fprintf(os.Stderr, "plugbench %s: %v\n", name, err)
	return 1
}

// upstreamHandler answers getBody to GET and echoes POST bodies, to callers
// that carry the credential: a proxy that fails to inject it gets 401s.
func upstreamHandler(key string) http.Handler {
	want := "Bearer " + key
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != want {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"missing or wrong credential"}`))
			return
		}
		if r.Method == http.MethodPost {
			_, _ = io.Copy(w, io.LimitReader(r.Body, 1<<20))
			return
		}
		_, _ = w.Write(getBody)
	})
}

// proxyHandler is httputil.ReverseProxy replacing the caller's
// Authorization (the user token) with the upstream credential.
func proxyHandler(upstream, key string) (http.Handler, error) {
	target, err := url.Parse(upstream)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("--upstream %q: want http://host:port", upstream)
	}
	cred := "Bearer " + key
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set("Authorization", cred)
		},
		Transport: newTransport(),
	}, nil
}

// verifyingHandler checks the user token's RS256 signature, audience and
// expiry on every request (no cache) before calling next.
// tunedProxyHandler is the fastest plain Go proxy: httputil.ReverseProxy
// with pooled 32 KiB copy buffers (a stock ReverseProxy allocates one per
// response), a transport tuned for one busy upstream (enough idle
// connections for every client connection, no compression, HTTP/1.1 only,
// keep-alives) and nothing else: no authentication, no logging. It sets the
// credential header, as every proxy here must.
func tunedProxyHandler(upstream, key string) (http.Handler, error) {
	target, err := url.Parse(upstream)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("--upstream %q: want http://host:port", upstream)
	}
	cred := []string{"Bearer " + key}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header["Authorization"] = cred
		},
		Transport:  tunedTransport(),
		BufferPool: copyBufferPool{},
		ErrorLog:   log.New(io.Discard, "", 0),
	}, nil
}

// tunedTransport keeps an idle connection for every client connection
// plugbench opens (up to 1024), never compresses and never tries HTTP/2.
func tunedTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2048,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     4 << 10,
		ReadBufferSize:      4 << 10,
	}
}

// copyBufferPool recycles ReverseProxy's 32 KiB copy buffers.
type copyBufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (copyBufferPool) Put(b []byte) { copyBuffers.Put(&b) }

func verifyingHandler(next http.Handler, publicKey, audience string) (http.Handler, error) {
	pub, err := readPublicKey(publicKey)
	if err != nil {
		return nil, err
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(),
		jwt.WithAudience(audience), jwt.WithLeeway(30*time.Second))
	keyFunc := func(*jwt.Token) (any, error) { return pub, nil }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "no user token", http.StatusUnauthorized)
			return
		}
		if _, err := parser.ParseWithClaims(token, &jwt.RegisteredClaims{}, keyFunc); err != nil {
			http.Error(w, "user token refused", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}

// newTransport pools upstream connections like Plugboard's transport
// (gateway/proxy.NewTransport), so that no proxy pays for reconnecting.
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
}

func readPublicKey(path string) (crypto.PublicKey, error) {
	if path == "" {
		return nil, errors.New("--public-key is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return jwt.ParseRSAPublicKeyFromPEM(b)
}
