package egress_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/internal/fakedns"
	"github.com/plugboardhq/plugboard/gateway/metrics"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		ip      string
		special bool
		want    string // part of the range name
	}{
		// IPv4: every special block, at both edges, and its neighbours.
		{"0.0.0.0", true, "this-network"},
		{"0.255.255.255", true, "this-network"},
		{"1.0.0.0", false, ""},
		{"1.1.1.1", false, ""},
		{"9.255.255.255", false, ""},
		{"10.0.0.0", true, "private"},
		{"10.0.0.5", true, "private"},
		{"10.255.255.255", true, "private"},
		{"11.0.0.0", false, ""},
		{"100.63.255.255", false, ""},
		{"100.64.0.0", true, "CGNAT"},
		{"100.127.255.255", true, "CGNAT"},
		{"100.128.0.0", false, ""},
		{"126.255.255.255", false, ""},
		{"127.0.0.0", true, "loopback"},
		{"127.0.0.1", true, "loopback"},
		{"127.255.255.254", true, "loopback"},
		{"128.0.0.0", false, ""},
		{"169.253.255.255", false, ""},
		{"169.254.0.0", true, "link-local"},
		{"169.254.169.254", true, "link-local"},
		{"169.254.255.255", true, "link-local"},
		{"169.255.0.0", false, ""},
		{"172.15.255.255", false, ""},
		{"172.16.0.0", true, "private"},
		{"172.31.255.255", true, "private"},
		{"172.32.0.0", false, ""},
		{"192.0.0.0", true, "IETF"},
		{"192.0.0.170", true, "IETF"},
		{"192.0.1.0", false, ""},
		{"192.0.2.1", true, "documentation"},
		{"192.88.99.1", true, "6to4 relay"},
		{"192.167.255.255", false, ""},
		{"192.168.0.0", true, "private"},
		{"192.168.1.1", true, "private"},
		{"192.168.255.255", true, "private"},
		{"192.169.0.0", false, ""},
		{"198.17.255.255", false, ""},
		{"198.18.0.0", true, "benchmarking"},
		{"198.19.255.255", true, "benchmarking"},
		{"198.20.0.0", false, ""},
		{"198.51.100.7", true, "documentation"},
		{"203.0.113.9", true, "documentation"},
		{"223.255.255.255", false, ""},
		{"224.0.0.1", true, "multicast"},
		{"239.255.255.255", true, "multicast"},
		{"240.0.0.1", true, "reserved"},
		{"255.255.255.255", true, "reserved"},
		{"8.8.8.8", false, ""},
		{"140.82.112.3", false, ""},

		// IPv6.
		{"::", true, "unspecified"},
		{"::1", true, "loopback"},
		{"::2", true, "IPv4-compatible"},
		{"::7f00:1", true, "IPv4-compatible"},
		{"::ffff:127.0.0.1", true, "loopback"},
		{"::ffff:7f00:1", true, "loopback"},
		{"::ffff:10.1.2.3", true, "private"},
		{"::ffff:169.254.169.254", true, "link-local"},
		{"::ffff:0.0.0.0", true, "this-network"},
		{"::ffff:8.8.8.8", false, ""},
		{"64:ff9b::7f00:1", true, "NAT64 of loopback"},
		{"64:ff9b::a9fe:a9fe", true, "NAT64 of link-local"},
		{"64:ff9b::808:808", false, ""},
		{"64:ff9b:1::1", true, "local-use NAT64"},
		{"100::1", true, "discard"},
		{"2001::1", true, "Teredo"},
		{"2001:2::1", true, "benchmarking"},
		{"2001:10::1", true, "ORCHID"},
		{"2001:20::1", true, "ORCHIDv2"},
		{"2001:db8::1", true, "documentation"},
		{"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true, "documentation"},
		{"2001:db9::1", false, ""},
		{"2002:7f00:1::1", true, "6to4 of loopback"},
		{"2002:c0a8:101::1", true, "6to4 of private"},
		{"2002:808:808::1", false, ""},
		{"2606:4700::1111", false, ""},
		{"2a00:1450:4001:80b::200e", false, ""},
		{"3fff::1", true, "documentation"},
		{"3fff:fff::1", true, "documentation"},
		{"3fff:1000::1", false, ""},
		{"fbff:ffff::1", true, "reserved IPv6"},
		{"fc00::1", true, "unique local"},
		{"fd12:3456:789a::1", true, "unique local"},
		{"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true, "unique local"},
		{"fe80::1", true, "link-local"},
		{"fe80::1%eth0", true, "link-local"},
		{"febf:ffff::1", true, "link-local"},
		{"fec0::1", true, "site-local"},
		{"ff02::1", true, "multicast"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true, "multicast"},
		{"1000::1", true, "reserved IPv6"},
		{"4000::1", true, "reserved IPv6"},
		{"1fff:ffff::1", true, "reserved IPv6"},
		{"2000::1", false, ""},
		{"3ffe:ffff::1", false, ""},
	} {
		name, _ := egress.Classify(netip.MustParseAddr(tc.ip))
		if (name != "") != tc.special || !strings.Contains(name, tc.want) {
			t.Errorf("Classify(%s) = %q, want special=%v containing %q", tc.ip, name, tc.special, tc.want)
		}
	}
}

func TestParseAllow(t *testing.T) {
	got, err := egress.ParseAllow(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,10.1.2.3/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "10.0.0.0/8"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "ten", "10.0.0/8", "localhost"} {
		if _, err := egress.ParseAllow(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseAllow(%q) = %v, want an error naming it", bad, err)
		}
	}
}

// upstream is a real HTTP server on 127.0.0.1 counting the requests it gets.
func upstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("reached"))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func get(g *egress.Guard, url string) error {
	tr := g.NewTransport()
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(egress.WithIntegration(context.Background(), "acme"), "GET", url, nil)
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func port(srv *httptest.Server) string {
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return p
}

func TestGuardRefusesSpecialAddresses(t *testing.T) {
	srv, hits := upstream(t)
	dns := fakedns.New(netip.MustParseAddr("127.0.0.1"))
	t.Cleanup(dns.Close)
	var logs bytes.Buffer
	m := metrics.New()
	g := &egress.Guard{Policy: egress.Policy{Resolver: dns.Resolver()}, Log: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: m}
	p := port(srv)
	for _, url := range []string{
		"http://127.0.0.1:" + p + "/",
		"http://localhost:" + p + "/",
		"http://[::ffff:127.0.0.1]:" + p + "/",
		"http://0.0.0.0:" + p + "/",
		"http://rebind.attacker.test:" + p + "/", // DNS says 127.0.0.1
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.5:443/",
		"http://[fd00::1]:443/",
		"http://[64:ff9b::7f00:1]:" + p + "/",
	} {
		err := get(g, url)
		var re *egress.RefusedError
		if !errors.As(err, &re) {
			t.Errorf("GET %s: %v, want a refusal", url, err)
			continue
		}
		if !egress.IsRefused(err) || !strings.Contains(err.Error(), re.Addr.Addr().String()) {
			t.Errorf("GET %s: error %q does not name the address", url, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the upstream on 127.0.0.1 got %d requests, want none", n)
	}
	if dns.Queries.Load() == 0 {
		t.Error("rebind.attacker.test was never resolved: the test did not exercise DNS")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `plugboard_egress_refused_total{integration="acme"} 9`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
	for _, want := range []string{"level=WARN", "integration=acme", "address=169.254.169.254:80", "host=rebind.attacker.test", "address=127.0.0.1:" + p} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestGuardAllowsWhatTheOperatorAllows(t *testing.T) {
	srv, hits := upstream(t)
	dns := fakedns.New(netip.MustParseAddr("127.0.0.1"))
	t.Cleanup(dns.Close)
	p := port(srv)
	allow, _ := egress.ParseAllow("127.0.0.0/8")
	g := &egress.Guard{Policy: egress.Policy{Allow: allow, Resolver: dns.Resolver()}}
	for _, url := range []string{"http://127.0.0.1:" + p + "/", "http://rebind.attacker.test:" + p + "/", "http://[::ffff:127.0.0.1]:" + p + "/"} {
		if err := get(g, url); err != nil {
			t.Errorf("GET %s with 127.0.0.0/8 allowed: %v", url, err)
		}
	}
	if hits.Load() != 3 {
		t.Errorf("upstream got %d requests, want 3", hits.Load())
	}
	// Another range allowed does not open loopback.
	other, _ := egress.ParseAllow("10.0.0.0/8")
	g = &egress.Guard{Policy: egress.Policy{Allow: other}}
	if err := get(g, "http://127.0.0.1:"+p+"/"); !egress.IsRefused(err) {
		t.Errorf("with only 10.0.0.0/8 allowed, loopback: %v, want a refusal", err)
	}
}

// Dev mode opens loopback to hosts written literally in a manifest, and
// only to those that name the local host.
func TestGuardDevLiteralLoopback(t *testing.T) {
	srv, hits := upstream(t)
	dns := fakedns.New(netip.MustParseAddr("127.0.0.1"))
	t.Cleanup(dns.Close)
	p := port(srv)
	literal := map[string]bool{"127.0.0.1:" + p: true, "localhost:" + p: true, "api.vendor.test:" + p: true}
	g := &egress.Guard{Policy: egress.Policy{LiteralLoopback: true, Resolver: dns.Resolver()}, IsLiteral: func(hp string) bool { return literal[hp] }}
	for _, url := range []string{"http://127.0.0.1:" + p + "/", "http://LOCALHOST:" + p + "/"} {
		if err := get(g, url); err != nil {
			t.Errorf("GET %s (literal): %v", url, err)
		}
	}
	for _, url := range []string{
		"http://acme.rebind.test:" + p + "/", // templated: not literal, resolves to loopback
		"http://api.vendor.test:" + p + "/",  // literal, but its DNS is someone else's
		"http://127.0.0.2:" + p + "/",        // loopback, not written in a manifest
		"http://169.254.169.254/",
	} {
		if err := get(g, url); !egress.IsRefused(err) {
			t.Errorf("GET %s in dev mode: %v, want a refusal", url, err)
		}
	}
	if hits.Load() != 2 {
		t.Errorf("upstream got %d requests, want 2", hits.Load())
	}
	// Without dev mode, literal hosts get nothing special.
	g.Policy.LiteralLoopback = false
	if err := get(g, "http://127.0.0.1:"+p+"/"); !egress.IsRefused(err) {
		t.Errorf("literal loopback outside dev mode: %v, want a refusal", err)
	}
}

// A nil guard is the default policy, never a bypass.
func TestNilGuardRefuses(t *testing.T) {
	srv, hits := upstream(t)
	var g *egress.Guard
	if err := get(g, srv.URL); !egress.IsRefused(err) {
		t.Errorf("nil guard: %v, want a refusal", err)
	}
	if hits.Load() != 0 {
		t.Error("upstream reached")
	}
}

// The transport never goes through an environment proxy, which would
// connect wherever it is told on the guard's behalf.
func TestTransportIgnoresEnvironmentProxy(t *testing.T) {
	srv, hits := upstream(t)
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxied.Add(1) }))
	t.Cleanup(proxy.Close)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	dns := fakedns.New(netip.MustParseAddr("127.0.0.1"))
	t.Cleanup(dns.Close)
	allow, _ := egress.ParseAllow("127.0.0.0/8")
	g := &egress.Guard{Policy: egress.Policy{Allow: allow, Resolver: dns.Resolver()}}
	if err := get(g, "http://api.vendor.test:"+port(srv)+"/"); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 0 || hits.Load() != 1 {
		t.Errorf("proxy got %d, upstream %d; want 0 and 1", proxied.Load(), hits.Load())
	}
}
