package integration

import (
	"sort"
	"strings"

	"github.com/plugboardhq/plugboard/manifest"
)

// Missing is a setting the gateway's operator has not provided, named for
// the operator: what it is for and where it is read from, never a value.
type Missing struct {
	What   string // "the OAuth client secret"
	Source string // "environment variable GITHUB_CLIENT_SECRET"
}

// MissingSettings lists what keeps an integration from being connected on
// this gateway as loaded: the secrets of its OAuth 2.0 client (client id
// and secret, secret authorization or token parameters) that were not
// resolved. Only dev mode loads such a manifest (manifest.Options
// AllowUnresolvedSecrets); production refuses it at load. Empty means the
// integration can be connected.
func MissingSettings(in *manifest.Integration) []Missing {
	o := in.Auth.OAuth2
	if in.Auth.Type != manifest.AuthOAuth2 || o == nil {
		return nil
	}
	var out []Missing
	add := func(what string, ref *manifest.SecretRef) {
		if ref == nil {
			return
		}
		if _, ok := ref.Value(); !ok {
			out = append(out, Missing{What: what, Source: ref.Source()})
		}
	}
	add("the OAuth client id", o.ClientID.Secret)
	add("the OAuth client secret", o.ClientSecret)
	for _, params := range []struct {
		what string
		m    map[string]manifest.Value
	}{{"the authorization parameter ", o.AuthorizationParams}, {"the token parameter ", o.TokenParams}} {
		names := make([]string, 0, len(params.m))
		for name := range params.m {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			add(params.what+name, params.m[name].Secret)
		}
	}
	return out
}

// UnavailableReason says, for the gateway's operator, why an integration
// cannot be connected ("" when it can): "Set environment variable
// GITHUB_CLIENT_SECRET (the OAuth client secret), then reload the manifests."
func UnavailableReason(in *manifest.Integration) string {
	missing := MissingSettings(in)
	if len(missing) == 0 {
		return ""
	}
	parts := make([]string, len(missing))
	for i, m := range missing {
		parts[i] = m.Source + " (" + m.What + ")"
	}
	return "Set " + joinAnd(parts) + ", then reload the manifests."
}

func joinAnd(parts []string) string {
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// Unavailable is the sentence end users and apps read about an integration
// that cannot be connected on this gateway yet.
func Unavailable(in *manifest.Integration) string {
	return in.Name + " cannot be connected on this gateway yet: its OAuth client is not set up."
}
