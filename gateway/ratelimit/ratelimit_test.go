package ratelimit

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
	}{
		{"10/m", Rate{Count: 10, Per: time.Minute, Burst: 10}},
		{"5/s", Rate{Count: 5, Per: time.Second, Burst: 5}},
		{"100/h,burst=20", Rate{Count: 100, Per: time.Hour, Burst: 20}},
		{" 3/30s , burst=1 ", Rate{Count: 3, Per: 30 * time.Second, Burst: 1}},
		{"0", Disabled},
		{"off", Disabled},
		{"0/m", Disabled},
	} {
		got, err := ParseRate(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if back, err := ParseRate(got.String()); err != nil || back != got {
			t.Errorf("%q: String %q does not read back: %+v, %v", tc.in, got.String(), back, err)
		}
	}
	for _, in := range []string{"", "10", "ten/m", "-1/m", "10/d", "10/-5s", "10/m,20", "10/m,burst=0", "10/m,burst=x"} {
		if r, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %+v, want an error", in, r)
		} else if !strings.Contains(err.Error(), "rate") {
			t.Errorf("ParseRate(%q): error %q does not say what is wrong", in, err)
		}
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func mustRate(t *testing.T, s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLimiterBurstThenRefusesWithRetryAfter(t *testing.T) {
	clock := newClock()
	l := New(mustRate(t, "6/m,burst=3"), Options{Now: clock.now})
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("event %d within the burst refused", i+1)
		}
	}
	ok, retry := l.Allow("alice")
	if ok {
		t.Fatal("the event beyond the burst was allowed")
	}
	// One token per 10s: the next is 10s away.
	if retry != 10*time.Second || apierror.RetryAfterSeconds(retry) != 10 {
		t.Errorf("retry after %v, want 10s", retry)
	}
	// A refused event takes nothing: after the wait, exactly one more.
	if ok, _ := l.Allow("bob"); !ok {
		t.Error("another key was limited by alice's bucket")
	}
	clock.add(10 * time.Second)
	if ok, _ := l.Allow("alice"); !ok {
		t.Error("refused after waiting Retry-After")
	}
	if ok, retry := l.Allow("alice"); ok || apierror.RetryAfterSeconds(retry) != 10 {
		t.Errorf("second event after the wait: allowed=%v, retry %v", ok, retry)
	}
}

func TestRetryAfterSecondsRoundsUp(t *testing.T) {
	for d, want := range map[time.Duration]int64{time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 0: 1} {
		if got := apierror.RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestDisabledLimiterAllowsEverything(t *testing.T) {
	for _, r := range []Rate{Disabled, {}} {
		l := New(r, Options{})
		for i := 0; i < 1000; i++ {
			if ok, _ := l.Allow("k"); !ok {
				t.Fatalf("rate %+v refused event %d", r, i)
			}
		}
	}
}

// A million distinct addresses, one second apart: idle buckets are
// forgotten once full again, so the limiter holds about one refill
// period's worth of keys, not a million.
func TestLimiterForgetsIdleBuckets(t *testing.T) {
	clock := newClock()
	l := New(mustRate(t, "60/m"), Options{Now: clock.now})
	for i := 0; i < 1_000_000; i++ {
		l.Allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		clock.add(time.Millisecond)
	}
	// 60/m refills in 60s = 60,000 events at 1ms apart.
	if n := l.Len(); n > 60_001 {
		t.Errorf("%d buckets held after a million keys, want at most 60,001", n)
	}
}

// 200,000 distinct addresses at once (no time to refill): the hard cap
// holds, and the most recently used keys keep their state.
func TestLimiterCapsKeys(t *testing.T) {
	clock := newClock()
	l := New(mustRate(t, "1/h"), Options{Now: clock.now, MaxKeys: 1000})
	for i := 0; i < 200_000; i++ {
		l.Allow(fmt.Sprint("ip-", i))
	}
	if n := l.Len(); n != 1000 {
		t.Errorf("%d buckets held, want the cap of 1000", n)
	}
	if ok, _ := l.Allow("ip-199999"); ok {
		t.Error("a recent key lost its bucket (allowed again within the hour)")
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.0.2.7, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"peer without trusted proxies", "203.0.113.5:4000", nil, nil, "203.0.113.5"},
		{"XFF ignored by default", "203.0.113.5:4000", []string{"198.51.100.1"}, nil, "203.0.113.5"},
		{"XFF ignored from an untrusted peer", "203.0.113.5:4000", []string{"198.51.100.1"}, trusted, "203.0.113.5"},
		{"trusted proxy: right-most hop", "10.1.2.3:80", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"spoofed left hops ignored", "10.1.2.3:80", []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"chain of trusted proxies", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.1, 192.0.2.7", "10.9.9.9"}, trusted, "198.51.100.1"},
		{"all hops trusted", "10.1.2.3:80", []string{"10.0.0.1"}, trusted, "10.0.0.1"},
		{"garbage hop stops at the last trusted", "10.1.2.3:80", []string{"evil, not-an-ip"}, trusted, "10.1.2.3"},
		{"trusted proxy without XFF", "10.1.2.3:80", nil, trusted, "10.1.2.3"},
		{"IPv6 peer", "[2001:db8::1]:443", nil, nil, "2001:db8::1"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.5]:1", nil, nil, "203.0.113.5"},
		{"hop with a port", "[fd00::1]:80", []string{"[2001:db8::9]:1234"}, trusted, "2001:db8::9"},
	} {
		if got := ClientIP(tc.remote, tc.xff, tc.trusted); got.String() != tc.want {
			t.Errorf("%s: ClientIP = %v, want %s", tc.name, got, tc.want)
		}
	}
	if _, err := ParsePrefixes("10.0.0.0/8,nonsense"); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("a bad trusted proxy entry: %v", err)
	}
}

func TestAddrKeyGroupsIPv6By64(t *testing.T) {
	a := AddrKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1"))
	b := AddrKey(netip.MustParseAddr("2001:db8:1:2:bbbb::2"))
	c := AddrKey(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c {
		t.Errorf("keys %q %q %q: want one per /64", a, b, c)
	}
	if AddrKey(netip.MustParseAddr("192.0.2.1")) != "192.0.2.1" || AddrKey(netip.Addr{}) != "unknown" {
		t.Error("IPv4 or unknown keys")
	}
}
