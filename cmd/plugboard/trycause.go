package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/manifest"
)

// integration returns the integration try was asked for and prints its
// problems (and only its: other manifests are not what is being tried).
// When it did not load, it prints the problems of the files that failed,
// those named after it if there are any.
func (g *tryGateway) integration(o tryOptions, stderr io.Writer) (*manifest.Integration, error) {
	cat := g.srv.Reloader().Catalog()
	if in, ok := cat.Lookup(o.id); ok {
		var probs manifest.Problems
		for _, e := range cat.Entries() {
			if e.Integration != nil && e.Integration.ID == in.ID {
				probs = e.Problems
			}
		}
		for _, p := range probs {
			fmt.Fprintln(stderr, p.String())
		}
		if in.Auth.Type == manifest.AuthOAuth2 && unsetOAuthSecret(probs) {
			return nil, fmt.Errorf("%s connects with OAuth, which needs the client id and secret the warnings above say are not set; set them and try again", in.Name)
		}
		return in, nil
	}
	var failed, named []*manifest.Entry
	for _, e := range cat.Entries() {
		if e.Integration != nil {
			continue
		}
		failed = append(failed, e)
		if strings.TrimSuffix(filepath.Base(e.Path), filepath.Ext(e.Path)) == o.id {
			named = append(named, e)
		}
	}
	if len(named) > 0 {
		failed = named
	}
	for _, e := range failed {
		for _, p := range e.Problems.Errors() {
			fmt.Fprintln(stderr, p.String())
		}
	}
	return nil, fmt.Errorf("integration %q is not loaded from %s (see the problems above, or plugboard validate)", o.id, o.manifests)
}

// unsetOAuthSecret reports whether an OAuth client setting is an unset secret.
func unsetOAuthSecret(probs manifest.Problems) bool {
	for _, p := range probs {
		if p.Code == manifest.SecretUnset && strings.HasPrefix(p.Path, "auth.oauth2.client") {
			return true
		}
	}
	return false
}

// printCause prints why a call to the provider failed, as the operator
// needs it: the error itself, what it means, and the start of the body the
// provider answered with, if any.
func printCause(w io.Writer, err error) {
	if err == nil {
		return
	}
	fmt.Fprintf(w, "  cause: %v\n", err)
	if what := describeCause(err); what != "" {
		fmt.Fprintf(w, "  that is: %s\n", what)
	}
	var pe *oauth.ProviderError
	if errors.As(err, &pe) && strings.TrimSpace(pe.Body) != "" {
		fmt.Fprintf(w, "  body:\n%s\n", excerpt(pe.Body, 300))
	}
}

// describeCause says in words what kind of failure err is: DNS, a refused
// connection, TLS, a timeout, the egress guard, or the provider's answer.
// It returns "" for anything else.
func describeCause(err error) string {
	var (
		dns       *net.DNSError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
		alert     tls.AlertError
		pe        *oauth.ProviderError
		netErr    net.Error
	)
	switch {
	case egress.IsRefused(err):
		return "the gateway's egress guard refused the address (a private or special network); --egress-allow opens ranges"
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return fmt.Sprintf("DNS: %s does not resolve (check the host in the manifest or the inputs, and the network)", dns.Name)
		}
		return fmt.Sprintf("DNS: looking up %s failed (%s)", dns.Name, dns.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at that address and port"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset by the other end"
	case errors.As(err, &authority):
		return "TLS: the server's certificate is not signed by an authority this machine trusts"
	case errors.As(err, &hostname):
		return fmt.Sprintf("TLS: the server's certificate is not valid for %s", hostname.Host)
	case errors.As(err, &invalid):
		return "TLS: the server's certificate is invalid (" + invalid.Error() + ")"
	case errors.As(err, &verify):
		return "TLS: the server's certificate could not be verified"
	case errors.As(err, &record):
		return "TLS: the server did not answer with TLS (plain http on an https URL?)"
	case errors.As(err, &alert):
		return "TLS: the server refused the handshake (" + alert.Error() + ")"
	case errors.As(err, &pe):
		return fmt.Sprintf("the token endpoint answered HTTP %d", pe.Status)
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out (api.timeout in the manifest bounds test requests)"
	}
	return ""
}
