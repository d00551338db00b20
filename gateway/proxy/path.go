// Package proxy is the authenticated proxy: it forwards an app's request to
// an integration's API with the end user's credential injected.
package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
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
	segs := strings.Split(escaped[1:], "/")
	for i, seg := range segs {
		if seg == "" {
			if i == len(segs)-1 {
				continue // a trailing slash is a real part of many APIs
			}
			return "", refuse("contains an empty segment (//)")
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", refuse("contains an invalid percent-encoding")
		}
		bare, _, _ := strings.Cut(dec, ";") // servlet containers drop ;params
		switch {
		case bare == "." || bare == "..":
			return "", refuse("contains a dot segment")
		case !utf8.ValidString(dec):
			return "", refuse("contains an encoding that is not valid UTF-8")
		case strings.ContainsAny(dec, "/\\"):
			return "", refuse("contains an encoded slash or backslash")
		case strings.IndexFunc(dec, isControl) >= 0:
			return "", refuse("contains an encoded control character")
		case i == 0 && strings.HasSuffix(dec, ":"):
			return "", refuse("looks like an absolute URL")
		}
		// Double encoding (%252e, %252f, %255c, %2500) turns into a dot
		// segment or separator for any upstream that decodes twice.
		if strings.Contains(strings.ToLower(dec), "%2e") || strings.Contains(strings.ToLower(dec), "%2f") ||
			strings.Contains(strings.ToLower(dec), "%5c") || strings.Contains(dec, "%00") {
			return "", refuse("contains a double-encoded dot, slash or NUL")
		}
	}
	return escaped, nil
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
