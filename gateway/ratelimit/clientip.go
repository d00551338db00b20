package ratelimit

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ParsePrefixes reads comma-separated CIDRs or single addresses
// ("10.0.0.0/8, 192.0.2.7, fd00::/8"): the operator's trusted proxies.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an IP address", part)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ClientIP returns the address a request comes from: the TCP peer
// (remoteAddr, as in http.Request.RemoteAddr). Only when the peer is one of
// the trusted proxies is X-Forwarded-For read (xff: every such header, in
// order), from the right: the first hop that is not a trusted proxy is the
// client. Without trusted proxies X-Forwarded-For is never read, so a
// caller cannot choose its own address. A hop that is not an IP address
// ends the walk at the last trusted one, which is then the client.
func ClientIP(remoteAddr string, xff []string, trusted []netip.Prefix) netip.Addr {
	peer := parseHost(remoteAddr)
	if !peer.IsValid() || !contains(trusted, peer) {
		return peer
	}
	var hops []string
	for _, h := range xff {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseHost(strings.TrimSpace(hops[i]))
		if !a.IsValid() {
			return client
		}
		client = a
		if !contains(trusted, a) {
			return a
		}
	}
	return client
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHost reads "ip", "ip:port" or "[ipv6]:port".
func parseHost(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}

// AddrKey is the bucket key of a client address: an IPv4 address as is,
// an IPv6 address by its /64 (one subscriber usually holds a whole /64,
// so keying by full address would let it rotate through 2^64 of them).
// An unknown address is "unknown".
func AddrKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
