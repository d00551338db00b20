package proxy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/manifest"
)

// destination is the caller's part of the upstream URL, already checked.
type destination struct {
	path  string // escaped, passed checkPath
	query string // raw
	// absolute is the URL of ProxyURLHeader or of an absolute test
	// endpoint: its path is from the host's root, and it must be on the
	// base URL's scheme and host.
	absolute  *url.URL
	underBase bool // absolute must also stay under the base URL's path (ProxyURLHeader)
}

// render renders what one attempt sends with conn's credential: the
// upstream URL for the destination d, which it returns, and the manifest's
// static headers and authorization, which it sets in hdr. Errors are a
// *PathError when d leaves the API's base URL, otherwise a value conn lacks.
func render(in *manifest.Integration, conn *connection.Connection, d destination, hdr http.Header) (*url.URL, error) {
	vars := manifest.Vars{Inputs: conn.Credential.Inputs, Credential: map[string]string{
		"access_token": conn.Credential.AccessToken, "token_type": conn.Credential.TokenType,
		"client_id": conn.Credential.ClientID, "client_secret": conn.Credential.ClientSecret,
	}}
	base, err := in.API.BaseURL.Render(vars)
	if err != nil {
		return nil, fmt.Errorf("base URL: %v", err)
	}
	// Only a literal base URL is kept parsed: one rendered from a user's
	// inputs or credential would keep their values in memory.
	var baseURL *url.URL
	if in.API.BaseURL.IsLiteral() {
		baseURL, err = parseBaseURL(base)
	} else {
		baseURL, err = url.Parse(base)
	}
	if err != nil {
		return nil, errors.New("base URL does not parse once rendered")
	}
	if a := d.absolute; a != nil {
		if !strings.EqualFold(a.Scheme, baseURL.Scheme) || !strings.EqualFold(a.Host, baseURL.Host) {
			return nil, &PathError{Reason: ProxyURLHeader + " must stay on " + baseURL.Scheme + "://" + baseURL.Host}
		}
		if d.underBase && !underPath(a.EscapedPath(), baseURL.EscapedPath()) {
			return nil, &PathError{Reason: ProxyURLHeader + " must stay under the API's base URL " + baseURL.Scheme + "://" + baseURL.Host + baseURL.EscapedPath()}
		}
		root := *baseURL // baseURL is shared
		root.Path, root.RawPath, root.RawQuery = "", "", ""
		baseURL = &root
	}
	target, err := join(baseURL, d.path, d.query)
	if err != nil {
		return nil, err
	}
	for _, sh := range in.API.Headers {
		v, err := sh.Value.Render(vars)
		if err != nil {
			return nil, fmt.Errorf("header %s: %v", sh.Name, err)
		}
		hdr.Set(sh.Name, v)
	}
	a := in.API.Authorization
	switch a.Type {
	case manifest.AuthorizeBearer, manifest.AuthorizeHeader, manifest.AuthorizeQuery:
		v, err := a.Value.Render(vars)
		if err != nil {
			return nil, fmt.Errorf("authorization: %v", err)
		}
		switch a.Type {
		case manifest.AuthorizeBearer:
			hdr.Set("Authorization", "Bearer "+v)
		case manifest.AuthorizeHeader:
			hdr.Set(a.Name, v)
		default:
			q := target.Query()
			q.Set(a.Name, v)
			target.RawQuery = q.Encode()
		}
	case manifest.AuthorizeBasic:
		u, err := a.Username.Render(vars)
		if err != nil {
			return nil, fmt.Errorf("authorization: %v", err)
		}
		p, err := a.Password.Render(vars)
		if err != nil {
			return nil, fmt.Errorf("authorization: %v", err)
		}
		hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
	}
	return target, nil
}

// baseURLs keeps the parsed literal base URLs of manifests, which every
// request to an integration would otherwise parse again. It holds at most
// maxBaseURLs (reloads may leave old ones); beyond, they are parsed each
// time. Its URLs are shared: copy one before changing it.
var (
	baseURLs     sync.Map // string → *url.URL
	baseURLCount atomic.Int64
)

const maxBaseURLs = 4096

// parseBaseURL returns the parsed base URL, which the caller must not
// change.
func parseBaseURL(base string) (*url.URL, error) {
	if u, ok := baseURLs.Load(base); ok {
		return u.(*url.URL), nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if baseURLCount.Load() < maxBaseURLs {
		if _, loaded := baseURLs.LoadOrStore(base, u); !loaded {
			baseURLCount.Add(1)
		}
	}
	return u, nil
}
