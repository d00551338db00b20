// Package proxy is the authenticated proxy: it forwards an app's request to
// an integration's API with the end user's credential injected.
package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxPathBytes caps the API path a caller may send.
const MaxPathBytes = 8 << 10

// PathError says why an API path was refused. Its message is safe to show
// the caller: it describes the rule, not the path.
type PathError struct{ Reason string }

func (e *PathError) Error() string { return "path refused: " + e.Reason }

func refuse(format string, args ...any) error {
	return &PathError{Reason: fmt.Sprintf(format, args...)}
}

// checkPath validates the escaped API path a caller sent (everything after
// the integration name, as it was on the wire) and returns it unchanged.
// The path is never resolved against anything: it must already be a plain
// sequence of segments, each of which stays a segment upstream.
func checkPath(escaped string) (string, error) {
	if escaped == "" {
		return "", nil
	}
	if len(escaped) > MaxPathBytes {
		return "", refuse("longer than %d bytes", MaxPathBytes)
	}
	if escaped[0] != '/' {
		return "", refuse("must start with /")
	}
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		switch {
		case c < 0x21 || c == 0x7f:
			return "", refuse("contains a control character or space")
		case c == '\\':
			return "", refuse("contains a backslash")
		case c == '#' || c == '?':
			return "", refuse("contains %q", c)
		case c >= 0x80:
			return "", refuse("contains a raw non-ASCII byte; percent-encode it")
		}
	}
	rest := escaped[1:]
	for i := 0; ; i++ {
		seg, after, more := strings.Cut(rest, "/")
		if seg == "" {
			if !more {
				break // a trailing slash is a real part of many APIs
			}
			return "", refuse("contains an empty segment (//)")
		}
		if err := checkSegment(seg, i == 0); err != nil {
			return "", err
		}
		if !more {
			break
		}
		rest = after
	}
	return escaped, nil
}

// maxReadings bounds how many readings of one segment are checked: a
// segment still changing after that many decodings is refused.
const maxReadings = 64

// checkSegment refuses an escaped segment that any upstream could read as a
// dot segment or as more than one segment. Its readings are the segment
// percent-decoded once, then every string reachable from there by decoding
// again (nested encodings such as %252e, to any depth; invalid escapes are
// kept as they are, as lenient decoders do), by reading + as a space
// (form-style decoding) or by folding compatibility characters (best fit,
// then NFKC: fullwidth ．／＼, one-dot leader, small and ideographic full
// stops, fraction and division slashes…). Each reading must be valid UTF-8
// without control characters, slash or backslash, and must not be "." or
// ".." once cut at the first ?, # or ; and trimmed of white space (ASCII
// and Unicode spaces, NBSP, ideographic space, zero-width characters).
func checkSegment(seg string, first bool) error {
	if !strings.ContainsAny(seg, "%+") {
		return checkReading(seg, first) // plain ASCII (checkPath made sure): its only reading
	}
	dec, err := url.PathUnescape(seg)
	if err != nil {
		return refuse("contains an invalid percent-encoding")
	}
	type reading struct {
		s      string
		folded bool // just folded: folding again would chain NFKC into best fit (½ → 1⁄2 → 1/2)
	}
	seen := map[string]bool{dec: true}
	queue := []reading{{s: dec}}
	for n := 0; len(queue) > 0; n++ {
		if n == maxReadings {
			return refuse("is percent-encoded too many times over")
		}
		r := queue[0]
		queue = queue[1:]
		if err := checkReading(r.s, first); err != nil {
			return err
		}
		var next []reading
		if !r.folded {
			next = append(next, reading{foldCompat(r.s), true})
		}
		if strings.IndexByte(r.s, '%') >= 0 {
			next = append(next, reading{s: lenientUnescape(r.s)})
		}
		if strings.IndexByte(r.s, '+') >= 0 {
			next = append(next, reading{s: strings.ReplaceAll(r.s, "+", " ")})
		}
		for _, t := range next {
			if !seen[t.s] {
				seen[t.s] = true
				queue = append(queue, t)
			}
		}
	}
	return nil
}

// lenientUnescape decodes every valid %XX and keeps anything else as is.
func lenientUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func checkReading(s string, first bool) error {
	switch {
	case !utf8.ValidString(s):
		return refuse("contains an encoding that is not valid UTF-8")
	case strings.IndexFunc(s, isControl) >= 0:
		return refuse("contains an encoded control character")
	case strings.ContainsAny(s, "/\\"):
		return refuse("contains an encoded or look-alike slash or backslash")
	}
	bare := s
	if i := strings.IndexAny(bare, "?#;"); i >= 0 {
		bare = bare[:i] // query, fragment, servlet ;params
	}
	bare = strings.TrimFunc(bare, isBlank)
	switch {
	case bare == "." || bare == "..":
		return refuse("contains a dot segment (possibly encoded, look-alike, padded or cut by ? # ;)")
	case first && strings.HasSuffix(s, ":"):
		return refuse("looks like an absolute URL")
	}
	return nil
}

// bestFit maps characters that Windows "best fit" code-page conversion
// (or lenient normalisers) turn into '.', '/' or '\\' where NFKC does not
// (NFKC maps U+FF61 to U+3002, for instance). NFKC itself folds the fullwidth forms (U+FF0E, U+FF0F,
// U+FF3C), the one-dot leader U+2024, the small full stop U+FE52 and the
// small reverse solidus U+FE68.
var bestFit = strings.NewReplacer(
	"\u3002", ".", // ideographic full stop (NFKC of U+FF61 and U+FE12)
	"\uff61", ".", // halfwidth ideographic full stop
	"\ufe12", ".", // presentation form for vertical ideographic full stop
	"\u2044", "/", // fraction slash
	"\u2215", "/", // division slash
	"\u29f8", "/", // big solidus
	"\u2571", "/", // box drawings light diagonal upper right to lower left
	"\u2216", "\\", // set minus
	"\u29f5", "\\", // reverse solidus operator
	"\u29f9", "\\", // big reverse solidus
	"\u2572", "\\", // box drawings light diagonal upper left to lower right
)

// foldCompat is s under the best-fit map, then NFKC.
func foldCompat(s string) string {
	return norm.NFKC.String(bestFit.Replace(s))
}

// isBlank reports the characters an upstream may trim from a segment: Unicode
// white space (ASCII spaces and tabs, NBSP, ideographic space…) and the
// invisible format characters often trimmed with it.
func isBlank(r rune) bool {
	switch r {
	case '\u180e', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad':
		return true
	}
	return unicode.IsSpace(r)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// join appends a checked escaped path to the base URL and verifies that the
// result kept the base's scheme, host and path prefix.
func join(base *url.URL, escapedPath, rawQuery string) (*url.URL, error) {
	u := *base
	basePath := strings.TrimSuffix(base.EscapedPath(), "/")
	full := basePath + escapedPath
	if full == "" {
		full = "/"
	}
	dec, err := url.PathUnescape(full)
	if err != nil {
		return nil, refuse("contains an invalid percent-encoding")
	}
	u.Path, u.RawPath = dec, full
	if u.EscapedPath() != full {
		u.RawPath = "" // Go's own encoding is equivalent
	}
	u.RawQuery = joinQuery(base.RawQuery, rawQuery)
	u.Fragment, u.RawFragment = "", ""
	if u.Scheme != base.Scheme || u.Host != base.Host || !strings.HasPrefix(u.EscapedPath(), basePath) {
		return nil, errors.New("path refused: leaves the API's base URL")
	}
	return &u, nil
}

func joinQuery(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "&" + b
}

// underPath reports whether the escaped path p is basePath itself or below
// it at a segment boundary: under /v2 are /v2 and /v2/users, not /v2evil.
func underPath(p, basePath string) bool {
	basePath = strings.TrimSuffix(basePath, "/")
	return basePath == "" || p == basePath || strings.HasPrefix(p, basePath+"/")
}
