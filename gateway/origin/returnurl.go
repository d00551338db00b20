package origin

import (
	"errors"
	"net/url"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/apierror"
)

// MaxReturnURLLength bounds a connect link's return URL.
const MaxReturnURLLength = 2048

// ReturnURL checks a connect link's return URL, the page of the app the
// portal's result page links back to: an absolute http(s) URL, without
// user info, whose origin (as a browser serialises it: lower case, default
// port dropped) is one of the allowed origins. Nothing is resolved against
// a base: a relative or scheme-relative URL is refused. It returns the URL
// re-serialised, or why not (a sentence for the app's developer).
func (a Allowlist) ReturnURL(raw string) (string, error) {
	if len(raw) > MaxReturnURLLength {
		return "", errors.New("returnUrl is longer than 2048 characters")
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= 0x20 || r == 0x7f || r == '\\' }) {
		return "", errors.New("returnUrl contains a space, a control character or a backslash")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", errors.New("returnUrl must be an absolute http(s) URL on one of the gateway's allowed origins, such as https://app.example.com/settings")
	}
	if u.User != nil {
		return "", errors.New("returnUrl must not carry a user name or password")
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	o := u.Scheme + "://" + host
	if !a.Allows(o) {
		return "", errors.New("returnUrl is on " + apierror.Quote(o) + ", which is not one of the gateway's allowed origins (--allowed-origins)")
	}
	u.Host = host
	return u.String(), nil
}
