package egress

import (
	"net/netip"
)

// A special range is address space the public internet does not route to
// an API: the gateway's own host, its private network, cloud metadata,
// documentation and reserved blocks. Names follow the IANA special-purpose
// address registries (RFC 6890 and successors).
type special struct {
	prefix netip.Prefix
	name   string
}

func mustPrefix(s, name string) special { return special{netip.MustParsePrefix(s), name} }

// Loopback ranges: the only ones dev mode opens, for literal manifest hosts.
var (
	loopback4 = netip.MustParsePrefix("127.0.0.0/8")
	loopback6 = netip.MustParsePrefix("::1/128")
)

var specialV4 = []special{
	mustPrefix("0.0.0.0/8", "this-network (0.0.0.0/8, reaches the local host)"),
	mustPrefix("10.0.0.0/8", "private (10.0.0.0/8)"),
	mustPrefix("100.64.0.0/10", "shared/CGNAT (100.64.0.0/10)"),
	{loopback4, "loopback (127.0.0.0/8)"},
	mustPrefix("169.254.0.0/16", "link-local (169.254.0.0/16, cloud metadata)"),
	mustPrefix("172.16.0.0/12", "private (172.16.0.0/12)"),
	mustPrefix("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
	mustPrefix("192.0.2.0/24", "documentation (192.0.2.0/24)"),
	mustPrefix("192.88.99.0/24", "6to4 relay anycast (192.88.99.0/24)"),
	mustPrefix("192.168.0.0/16", "private (192.168.0.0/16)"),
	mustPrefix("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
	mustPrefix("198.51.100.0/24", "documentation (198.51.100.0/24)"),
	mustPrefix("203.0.113.0/24", "documentation (203.0.113.0/24)"),
	mustPrefix("224.0.0.0/4", "multicast (224.0.0.0/4)"),
	mustPrefix("240.0.0.0/4", "reserved (240.0.0.0/4, broadcast included)"),
}

var specialV6 = []special{
	mustPrefix("::/128", "unspecified (::)"),
	{loopback6, "loopback (::1)"},
	mustPrefix("::/96", "IPv4-compatible IPv6 (::/96, deprecated)"),
	mustPrefix("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
	mustPrefix("100::/64", "discard-only (100::/64)"),
	mustPrefix("2001::/32", "Teredo (2001::/32)"),
	mustPrefix("2001:2::/48", "benchmarking (2001:2::/48)"),
	mustPrefix("2001:10::/28", "ORCHID (2001:10::/28)"),
	mustPrefix("2001:20::/28", "ORCHIDv2 (2001:20::/28)"),
	mustPrefix("2001:db8::/32", "documentation (2001:db8::/32)"),
	mustPrefix("3fff::/20", "documentation (3fff::/20)"),
	mustPrefix("fc00::/7", "unique local (fc00::/7)"),
	mustPrefix("fe80::/10", "link-local (fe80::/10)"),
	mustPrefix("fec0::/10", "site-local (fec0::/10, deprecated)"),
	mustPrefix("ff00::/8", "multicast (ff00::/8)"),
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	global6   = netip.MustParsePrefix("2000::/3")
)

// Classify names the special range ip belongs to, or returns "" for a
// public address. An IPv6 address that carries an IPv4 address (mapped
// ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by the
// IPv4 address it reaches; embedded is that address (the zero Addr when
// there is none).
func Classify(ip netip.Addr) (rangeName string, embedded netip.Addr) {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		v4 := ip.Unmap()
		return classify4(v4), v4
	}
	if ip.Is4() {
		return classify4(ip), netip.Addr{}
	}
	if !ip.IsValid() {
		return "invalid address", netip.Addr{}
	}
	for _, s := range specialV6 {
		if s.prefix.Contains(ip) {
			return s.name, netip.Addr{}
		}
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		if name := classify4(v4); name != "" {
			return "NAT64 of " + name, v4
		}
		return "", v4
	case sixToFour.Contains(ip):
		v4 := netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		if name := classify4(v4); name != "" {
			return "6to4 of " + name, v4
		}
		return "", v4
	case !global6.Contains(ip):
		return "reserved IPv6 (outside global unicast 2000::/3)", netip.Addr{}
	}
	return "", netip.Addr{}
}

func classify4(ip netip.Addr) string {
	for _, s := range specialV4 {
		if s.prefix.Contains(ip) {
			return s.name
		}
	}
	return ""
}

// isLoopback reports whether ip (or the IPv4 address it maps) is loopback.
func isLoopback(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	return loopback4.Contains(ip) || loopback6.Contains(ip)
}
