package main

import (
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
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

type role struct {
	name  string
	build func(fs *flag.FlagSet) func(key string) (http.Handler, error)
}

var roles = map[string]role{
	"upstream":  {"upstream", upstreamRole},
	"bareproxy": {"bareproxy", func(fs *flag.FlagSet) func(string) (http.Handler, error) { return proxyRole(fs, false) }},
	"jwtproxy":  {"jwtproxy", func(fs *flag.FlagSet) func(string) (http.Handler, error) { return proxyRole(fs, true) }},
}

// runRole serves one role until killed.
func runRole(r role, args []string) int {
	fs := flag.NewFlagSet("plugbench "+r.name, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	build := r.build(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	key := os.Getenv(upstreamKeyEnv)
	if key == "" {
		fmt.Fprintf(os.Stderr, "plugbench %s: set %s to the upstream credential\n", r.name, upstreamKeyEnv)
		return 2
	}
	h, err := build(key)
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbench %s: %v\n", r.name, err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbench %s: %v\n", r.name, err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintf(os.Stderr, "plugbench %s listening on %s\n", r.name, ln.Addr())
	err = srv.Serve(ln)
	fmt.Fprintf(os.Stderr, "plugbench %s: %v\n", r.name, err)
	return 1
}

// upstreamRole answers getBody to GET and echoes POST bodies, to callers
// that carry the credential: a proxy that fails to inject it gets 401s.
func upstreamRole(*flag.FlagSet) func(string) (http.Handler, error) {
	return func(key string) (http.Handler, error) {
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
		}), nil
	}
}

// proxyRole is httputil.ReverseProxy replacing the caller's Authorization
// (the user token) with the upstream credential; with verify, it first
// checks the user token's RS256 signature and expiry on every request.
func proxyRole(fs *flag.FlagSet, verify bool) func(string) (http.Handler, error) {
	upstream := fs.String("upstream", "", "URL of the upstream")
	var pubFile, audience *string
	if verify {
		pubFile = fs.String("public-key", "", "PEM file of the RSA public key that signs user tokens")
		audience = fs.String("audience", "dev", "required aud of user tokens")
	}
	return func(key string) (http.Handler, error) {
		target, err := url.Parse(*upstream)
		if err != nil || target.Host == "" {
			return nil, fmt.Errorf("--upstream %q: want http://host:port", *upstream)
		}
		cred := "Bearer " + key
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Header.Set("Authorization", cred)
			},
			Transport: newTransport(),
		}
		if !verify {
			return rp, nil
		}
		pub, err := readPublicKey(*pubFile)
		if err != nil {
			return nil, err
		}
		parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(),
			jwt.WithAudience(*audience), jwt.WithLeeway(30*time.Second))
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
			rp.ServeHTTP(w, r)
		}), nil
	}
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
