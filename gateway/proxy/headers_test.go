package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// loadHeaderRows reads a "Name: value" corpus from testdata (also used by
// the gateway's end-to-end header tests).
func loadHeaderRows(t *testing.T, name string) [][2]string {
	t.Helper()
	var rows [][2]string
	for _, line := range loadCorpus(t, name) {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s: %q is not Name: value", name, line)
		}
		rows = append(rows, [2]string{k, v})
	}
	return rows
}

// TestHeaderListsHaveRows makes sure every entry of the header lists has a
// row in the corpus the end-to-end tests send, and every row is dropped.
func TestHeaderListsHaveRows(t *testing.T) {
	for _, c := range []struct {
		file     string
		names    []string
		prefixes []string
		filter   headerFilter
	}{
		{"dropped-request-headers.txt", droppedRequestHeaders, droppedRequestPrefixes, requestFilter},
		{"dropped-response-headers.txt", droppedResponseHeaders, droppedResponsePrefixes, responseFilter},
	} {
		rows := loadHeaderRows(t, c.file)
		has := func(match func(string) bool) bool {
			for _, r := range rows {
				if match(headerKey(r[0])) {
					return true
				}
			}
			return false
		}
		for _, n := range c.names {
			if !has(func(k string) bool { return k == headerKey(n) }) {
				t.Errorf("%s: no row for %s", c.file, n)
			}
		}
		for _, p := range c.prefixes {
			if !has(func(k string) bool { return strings.HasPrefix(k, headerKey(p)) }) {
				t.Errorf("%s: no row for %s*", c.file, p)
			}
		}
		for _, r := range rows {
			if !c.filter.drops(r[0]) {
				t.Errorf("%s: %s is not dropped", c.file, r[0])
			}
		}
	}
}

func TestWebsocketHandshakeHeadersPassOnAnUpgrade(t *testing.T) {
	for name, want := range map[string]bool{"Sec-Websocket-Key": true, "Sec-Websocket-Version": true, "Upgrade": true, "Connection": true,
		"Sec-Fetch-Mode": false, "Te": false, "Transfer-Encoding": false, "Expect": false, "Cookie": false, "Accept": true} {
		if got := forwardsRequestHeader(name, true); got != want {
			t.Errorf("websocket: %s crosses: %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"Sec-Websocket-Key", "Upgrade", "Connection", "Keep-Alive", "Proxy-Connection"} {
		if forwardsRequestHeader(name, false) {
			t.Errorf("%s crosses without an upgrade", name)
		}
	}
}

func TestVaryIsMerged(t *testing.T) {
	up := http.Header{"Vary": {"Accept-Encoding, origin", "Accept", "accept-encoding"}}
	filterResponseHeaders(up, []string{"Origin"})
	if got := up["Vary"]; len(got) != 1 || got[0] != "Origin, Accept-Encoding, Accept" {
		t.Errorf("Vary %q", got)
	}
}

// TestDropsMatchesHeaderKey: the allocation-free drops decides as the
// plain headerKey comparison does, for the corpus, its spellings with
// underscores and other cases, long names and non-ASCII ones.
func TestDropsMatchesHeaderKey(t *testing.T) {
	names := []string{"Accept", "Content-Type", "X-Request-Id", "Vary", "", "X", "Sec-Websocket-Key", "X-Forwarded",
		"X-Forwarded-Forx", "Proxy", "Proxyx", "Cf-Connecting-Ip", strings.Repeat("A", 64), strings.Repeat("X-Forwarded-", 6),
		"X-Forwarded-" + strings.Repeat("a", 60), "X-FORWARDED-FOR", "x_forwarded_for", "Cookie\u212a", "\u212aelvin", "Ä-Forwarded-For"}
	for _, file := range []string{"dropped-request-headers.txt", "dropped-response-headers.txt"} {
		for _, r := range loadHeaderRows(t, file) {
			names = append(names, r[0], strings.ToUpper(r[0]), strings.ReplaceAll(r[0], "-", "_"), r[0]+"-Suffix", r[0][:len(r[0])-1])
		}
	}
	for _, f := range []headerFilter{requestFilter, responseFilter} {
		for _, n := range names {
			if got, want := f.drops(n), f.dropsKey(headerKey(n)); got != want {
				t.Errorf("drops(%q) = %v, want %v", n, got, want)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { requestFilter.drops("X-Forwarded-For"); responseFilter.drops("Content-Type") }); n != 0 {
		t.Errorf("drops allocates %.0f times per call, want 0", n)
	}
}
