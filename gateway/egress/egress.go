// Package egress is the one gate every outbound connection of the gateway
// passes: API calls, test requests, token endpoints, revocation. It checks
// the address actually dialled, after DNS resolution (so a name that
// resolves, or rebinds, to an internal address is caught), and refuses
// loopback, private, link-local, unique-local, CGNAT, multicast, reserved
// and other special ranges unless the operator allows them.
package egress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/plugboardhq/plugboard/gateway/metrics"
)

// Policy is what the operator allows beyond public addresses. The zero
// value is the safe one: every special range is refused.
type Policy struct {
	// Allow lists address ranges that may be reached although they are
	// private or special (--egress-allow), e.g. 10.0.0.0/8 for an API in
	// the same network. An IPv6 address carrying an IPv4 one (mapped,
	// NAT64, 6to4) is allowed when either address is in a range.
	Allow []netip.Prefix
	// LiteralLoopback (dev mode) lets a host written literally in a
	// manifest as localhost, *.localhost or a loopback IP (e.g.
	// http://127.0.0.1:9000 as baseUrl or tokenUrl) reach loopback
	// addresses, so local testing works. A host templated from end users'
	// inputs is never such a host, whatever it resolves to.
	LiteralLoopback bool
	// Resolver resolves host names before the check; nil is the system
	// resolver. Tests point it at a DNS server of their own.
	Resolver *net.Resolver
}

// ParseAllow parses a comma-separated list of CIDRs (or single
// addresses) for Policy.Allow.
func ParseAllow(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an IP address", part)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// RefusedError is a dial the guard refused. Its message names the host
// and the address, for logs; what end users see is said by the caller,
// without the address.
type RefusedError struct {
	Host  string         // as dialled: a name or an IP literal, without the port
	Addr  netip.AddrPort // the resolved address refused
	Range string         // the special range it is in
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("egress refused: %s resolves to %s, in %s; the operator can allow it with --egress-allow", e.Host, e.Addr, e.Range)
}

// IsRefused reports whether err is (or wraps) a refusal of the guard.
func IsRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

// Guard dials for outbound clients. A nil *Guard refuses every special
// range and neither logs nor counts.
type Guard struct {
	Policy Policy
	// IsLiteral reports whether host:port (as a client dials it, e.g.
	// "localhost:9000", "[::1]:80") is written literally, not templated,
	// in a served manifest; consulted only with Policy.LiteralLoopback.
	IsLiteral func(hostport string) bool
	Log       *slog.Logger
	Metrics   *metrics.Metrics
}

type integrationKey struct{}

// WithIntegration records which integration a call is for, so that a
// refusal is logged and counted under it.
func WithIntegration(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, integrationKey{}, id)
}

func integrationOf(ctx context.Context) string {
	id, _ := ctx.Value(integrationKey{}).(string)
	return id
}

// Dial timeouts of every outbound connection.
const (
	DialTimeout = 10 * time.Second
	KeepAlive   = 30 * time.Second
)

// DialContext dials addr (host:port) like net.Dialer.DialContext, checking
// every address the host resolves to just before connecting to it.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var p Policy
	if g != nil {
		p = g.Policy
	}
	loopbackOK := p.LiteralLoopback && g.IsLiteral != nil && loopbackName(host) && g.IsLiteral(strings.ToLower(addr))
	d := &net.Dialer{
		Timeout: DialTimeout, KeepAlive: KeepAlive, Resolver: p.Resolver,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			return check(p, host, address, loopbackOK)
		},
	}
	conn, err := d.DialContext(ctx, network, addr)
	var re *RefusedError
	if err != nil && errors.As(err, &re) && g != nil {
		id := integrationOf(ctx)
		if g.Log != nil {
			g.Log.Warn("egress refused: outbound connection to a special address", "integration", id, "host", re.Host, "address", re.Addr.String(), "range", re.Range)
		}
		if g.Metrics != nil {
			g.Metrics.EgressRefused.WithLabelValues(id).Inc()
		}
	}
	return conn, err
}

// check decides one address about to be connected to.
func check(p Policy, host, address string, loopbackOK bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Host: host, Range: "an address that does not parse (" + address + ")"}
	}
	ip := ap.Addr().WithZone("")
	name, embedded := Classify(ip)
	if name == "" {
		return nil
	}
	if loopbackOK && isLoopback(ip) {
		return nil
	}
	for _, a := range p.Allow {
		if a.Contains(ip.Unmap()) || a.Contains(ip) || (embedded.IsValid() && a.Contains(embedded)) {
			return nil
		}
	}
	return &RefusedError{Host: host, Addr: ap, Range: name}
}

// loopbackName reports whether a host as written names the local host:
// localhost, *.localhost or a loopback IP literal.
func loopbackName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && isLoopback(ip)
}

// NewTransport returns an HTTP transport that dials through g and never
// uses an environment proxy (which would connect on the guard's behalf to
// anywhere). Tune the pool on the result as needed.
func (g *Guard) NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
