package connection

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// String says which parts of the credential are set, never their values.
// Input names are shown: they come from the manifest, not from the user.
func (c Credential) String() string {
	var set []string
	for _, f := range []struct{ name, v string }{
		{"access_token", c.AccessToken},
		{"refresh_token", c.RefreshToken},
		{"token_type", c.TokenType},
		{"client_id", c.ClientID},
		{"client_secret", c.ClientSecret},
	} {
		if f.v != "" {
			set = append(set, f.name)
		}
	}
	if len(c.Inputs) > 0 {
		set = append(set, "inputs["+strings.Join(sortedKeys(c.Inputs), " ")+"]")
	}
	if !c.RefreshExpiresAt.IsZero() {
		set = append(set, "refresh_expires_at")
	}
	if len(c.Extra) > 0 {
		set = append(set, "extra["+strings.Join(sortedKeys(c.Extra), " ")+"]")
	}
	return "Credential{redacted; set: " + strings.Join(set, " ") + "}"
}

// Format makes every fmt verb (%v, %+v, %#v, %x ...) print String, so that a
// Connection printed with any verb does not show its credential.
func (c Credential) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue hides the credential from log/slog, whatever the handler.
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON writes "<secret>", so that a Connection that reaches an API
// response or a JSON log by mistake does not carry its tokens. The store
// seals the real JSON through a type without this method.
func (Credential) MarshalJSON() ([]byte, error) { return []byte(`"<secret>"`), nil }

// LogValue describes a connection without its credential, and without
// the noise of every field.
func (c Connection) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", c.ID),
		slog.String("project_id", c.ProjectID),
		slog.String("user_id", c.UserID),
		slog.String("integration_id", c.IntegrationID),
		slog.Bool("default", c.IsDefault),
		slog.String("status", string(c.Status)),
		slog.Int64("version", c.Version),
	}
	if !c.ExpiresAt.IsZero() {
		attrs = append(attrs, slog.Time("expires_at", c.ExpiresAt))
	}
	if c.LastError != "" {
		attrs = append(attrs, slog.String("last_error", c.LastError))
	}
	return slog.GroupValue(attrs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
