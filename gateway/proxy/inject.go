package proxy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"

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

// injection is what one attempt sends: the upstream URL and the headers the
// manifest adds (static headers and the credential), rendered from a
// connection.
type injection struct {
	url    *url.URL
	header http.Header
}

// render renders the manifest's baseUrl, headers and authorization with
// conn's credential, for the destination d. Errors are a *PathError when d
// leaves the API's base URL, otherwise a value conn lacks.
func render(in *manifest.Integration, conn *connection.Connection, d destination) (injection, error) {
	vars := manifest.Vars{Inputs: conn.Credential.Inputs, Credential: map[string]string{
		"access_token": conn.Credential.AccessToken, "token_type": conn.Credential.TokenType,
		"client_id": conn.Credential.ClientID, "client_secret": conn.Credential.ClientSecret,
	}}
	base, err := in.API.BaseURL.Render(vars)
	if err != nil {
		return injection{}, fmt.Errorf("base URL: %v", err)
	}
	baseURL, err := url.Parse(base)
	if err != nil {
		return injection{}, errors.New("base URL does not parse once rendered")
	}
	if a := d.absolute; a != nil {
		if !strings.EqualFold(a.Scheme, baseURL.Scheme) || !strings.EqualFold(a.Host, baseURL.Host) {
			return injection{}, &PathError{Reason: ProxyURLHeader + " must stay on " + baseURL.Scheme + "://" + baseURL.Host}
		}
		if d.underBase && !underPath(a.EscapedPath(), baseURL.EscapedPath()) {
			return injection{}, &PathError{Reason: ProxyURLHeader + " must stay under the API's base URL " + baseURL.Scheme + "://" + baseURL.Host + baseURL.EscapedPath()}
		}
		baseURL.Path, baseURL.RawPath, baseURL.RawQuery = "", "", ""
	}
	target, err := join(baseURL, d.path, d.query)
	if err != nil {
		return injection{}, err
	}
	hdr := http.Header{}
	for _, sh := range in.API.Headers {
		v, err := sh.Value.Render(vars)
		if err != nil {
			return injection{}, fmt.Errorf("header %s: %v", sh.Name, err)
		}
		hdr.Set(sh.Name, v)
	}
	a := in.API.Authorization
	switch a.Type {
	case manifest.AuthorizeBearer, manifest.AuthorizeHeader, manifest.AuthorizeQuery:
		v, err := a.Value.Render(vars)
		if err != nil {
			return injection{}, fmt.Errorf("authorization: %v", err)
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
			return injection{}, fmt.Errorf("authorization: %v", err)
		}
		p, err := a.Password.Render(vars)
		if err != nil {
			return injection{}, fmt.Errorf("authorization: %v", err)
		}
		hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
	}
	return injection{url: target, header: hdr}, nil
}

// injectTransport sends each attempt to the upstream URL with the
// credential, rendered from the attempt's connection: a replay after a
// refresh carries the new token.
type injectTransport struct{ next http.RoundTripper }

func (t injectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := planFrom(req.Context())
	inj, err := render(p.Integration, p.conn, p.dest)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &renderError{err}
	}
	out := *req // RoundTrip must not change req: the replay sends it again
	out.Header = make(http.Header, len(req.Header)+len(inj.header))
	maps.Copy(out.Header, req.Header)
	maps.Copy(out.Header, inj.header)
	out.URL, out.Host = inj.url, inj.url.Host
	resp, err := t.next.RoundTrip(&out)
	if err != nil {
		return nil, &sendError{host: inj.url.Hostname(), err: err}
	}
	return resp, nil
}
