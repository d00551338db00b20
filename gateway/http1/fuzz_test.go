package http1_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// echoJSON answers 200 with what it parsed, base64 JSON in X-Echo and no
// body (so that HEAD answers frame like the others), or 400 when the body
// cannot be read.
func echoJSON(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	sum := sha256.Sum256(b)
	j, _ := json.Marshal(map[string]any{
		"method": r.Method, "uri": r.RequestURI, "host": r.Host, "proto": r.Proto,
		"header": r.Header, "bodyLen": len(b), "bodySHA256": hex.EncodeToString(sum[:8]),
	})
	w.Header().Set("X-Echo", base64.StdEncoding.EncodeToString(j))
	w.Header().Set("Content-Length", "0")
}

// seen is one answer as the fuzz test compares them.
type seen struct {
	status int
	echo   string
}

// exchange sends raw on a fresh connection, half-closes it, and returns the
// final answers read until the server closes; timedOut says it did not
// close in time.
func exchange(addr string, raw []byte) (answers []seen, timedOut bool, err error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(raw); err != nil {
		return nil, false, nil // the server may close before reading it all
	}
	_ = c.(*net.TCPConn).CloseWrite()
	br := bufio.NewReader(c)
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return answers, isTimeout(err), nil
		}
		_, err = io.Copy(io.Discard, res.Body)
		if res.StatusCode >= 100 && res.StatusCode < 200 {
			continue
		}
		answers = append(answers, seen{res.StatusCode, res.Header.Get("X-Echo")})
		if err != nil {
			return answers, isTimeout(err), nil
		}
	}
}

// FuzzRequestParsing feeds the same bytes to net/http's server and ours:
// ours may refuse more, but must not serve what net/http refuses, nor parse
// what both serve differently.
func FuzzRequestParsing(f *testing.F) {
	for _, c := range refusals {
		f.Add([]byte(c.raw))
	}
	for _, c := range acceptable {
		f.Add([]byte(c.raw))
	}
	for _, s := range []string{
		"GET /one HTTP/1.1\r\n" + host + "\r\nHEAD /two HTTP/1.1\r\n" + host + "\r\nGET /three?x=1 HTTP/1.0\r\n\r\n",
		"POST /one HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhelloGET /two HTTP/1.1\r\n" + host + "\r\n",
		"POST /one HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /two HTTP/1.1\r\n" + host + "\r\n",
		"POST /one HTTP/1.1\r\n" + host + "Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + host + "\r\n",
		"POST /one HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
		"POST /one HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
		"GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n",
		"GET /\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\n" + host + "\r\n",
		"GET / HTTP/1.1\n" + "Host: x\n\n",
	} {
		f.Add([]byte(s))
	}

	var addrs [2]string
	for i, k := range kinds {
		ts := start(f, k, config{Handler: http.HandlerFunc(echoJSON), MaxHeaderBytes: 4096,
			ReadHeaderTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
		addrs[i] = ts.addr
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 8<<10 {
			t.Skip("bounded to 8 KiB")
		}
		theirs, _, err := exchange(addrs[0], raw)
		if err != nil {
			t.Fatal(err)
		}
		ours, oursTimedOut, err := exchange(addrs[1], raw)
		if err != nil {
			t.Fatal(err)
		}
		if oursTimedOut {
			t.Errorf("ours kept a half-closed connection open past its timeouts (answers %v)", ours)
		}
		for i, a := range ours {
			if a.status/100 != 2 {
				continue
			}
			if i >= len(theirs) || theirs[i].status/100 != 2 {
				t.Fatalf("answer %d: ours %d, net/http's %v: ours serves a request net/http refuses\nours: %v\nnet/http: %v", i, a.status, at(theirs, i), ours, theirs)
			}
			if theirs[i].echo == "" {
				continue // net/http answered it itself (OPTIONS *): nothing to compare
			}
			if a.echo != theirs[i].echo {
				t.Fatalf("answer %d: both served it, but parsed it differently:\nours:     %s\nnet/http: %s", i, decodeEcho(a.echo), decodeEcho(theirs[i].echo))
			}
		}
	})
}

func at(s []seen, i int) any {
	if i < len(s) {
		return s[i].status
	}
	return "none"
}

func decodeEcho(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	return string(b)
}
