package workflow

import "strings"

// Step outputs are stored, shown to operators and read by later steps.
// The proxy never returns the user's credential, but an API may echo
// one (a token endpoint, a debug route): values under keys named like
// credentials are replaced before the output is stored. A later step
// that needs such a value cannot have it, by design.
const redacted = "<redacted>"

func sensitiveKey(k string) bool {
	k = strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(k))
	switch k {
	case "authorization", "proxyauthorization", "cookie", "setcookie", "password", "secret", "clientsecret",
		"accesstoken", "refreshtoken", "idtoken", "token", "apikey", "xapikey", "privatekey":
		return true
	}
	return strings.HasSuffix(k, "token") && !strings.HasSuffix(k, "pagetoken") && !strings.HasSuffix(k, "synctoken")
}

// redact returns v with the values of sensitive keys replaced, at any depth.
func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, m := range t {
			if sensitiveKey(k) {
				out[k] = redacted
			} else {
				out[k] = redact(m)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, m := range t {
			out[i] = redact(m)
		}
		return out
	}
	return v
}
