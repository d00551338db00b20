package usertoken

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is what a verified user token says.
type Claims struct {
	// Subject is the end user: the token's sub claim, or its id claim when
	// sub is absent. Non-empty, at most MaxSubjectLength characters, no
	// control characters.
	Subject string
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
	// IssuedAt is the token's iat; zero when the token has none.
	IssuedAt time.Time
	// Audience is the token's aud; empty when the token has none, and
	// otherwise always includes the verifier's project id.
	Audience []string
	// Name and Email are the token's name and email claims when they are
	// JSON strings (empty otherwise). They are for display only — whose
	// account a page is connecting — and are not checked beyond being
	// valid UTF-8: the caller sanitises them for display.
	Name, Email string
}

// payload is a token's claims as the gateway decodes them. sub, id and the
// dates stay raw so that absent, empty and mistyped can be told apart (and
// so that a date written as a JSON string is refused: jwt.NumericDate would
// take "exp":"9999999999"); aud is a pointer so that absent and empty can.
type payload struct {
	Subject  json.RawMessage   `json:"sub"`
	UserID   json.RawMessage   `json:"id"`
	Audience *jwt.ClaimStrings `json:"aud"`
	Exp      json.RawMessage   `json:"exp"`
	Nbf      json.RawMessage   `json:"nbf"`
	Iat      json.RawMessage   `json:"iat"`
	Name     json.RawMessage   `json:"name"`
	Email    json.RawMessage   `json:"email"`

	// The dates, set by dates() from Exp, Nbf and Iat.
	ExpiresAt, NotBefore, IssuedAt *jwt.NumericDate `json:"-"`
}

// dates decodes exp, nbf and iat, which must be JSON numbers when present
// (RFC 7519 NumericDate).
func (p *payload) dates() error {
	for _, d := range [...]struct {
		name string
		raw  json.RawMessage
		dst  **jwt.NumericDate
	}{{"exp", p.Exp, &p.ExpiresAt}, {"nbf", p.Nbf, &p.NotBefore}, {"iat", p.Iat, &p.IssuedAt}} {
		*d.dst = nil
		if d.raw == nil {
			continue
		}
		raw := bytes.TrimSpace(d.raw)
		if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
			return refuse(ErrClaims, "%s is %s; exp, nbf and iat must be JSON numbers (seconds since 1970)", d.name, jsonKind(raw))
		}
		var date jwt.NumericDate
		if err := date.UnmarshalJSON(raw); err != nil {
			return refuse(ErrClaims, "%s is not a usable number", d.name)
		}
		*d.dst = &date
	}
	return nil
}

// jsonKind names the type of a JSON value for a message.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "null"
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON array"
	}
	return "not a JSON number"
}

// displayClaim returns a claim that is a JSON string, or "".
func displayClaim(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil || !utf8.ValidString(s) {
		return ""
	}
	return s
}

// check applies the claim rules to a payload whose signature verified.
func (v *Verifier) check(p *payload, now time.Time) (Claims, error) {
	if p.Audience != nil && !slices.Contains(*p.Audience, v.projectID) {
		return Claims{}, refuse(ErrAudience, "aud does not include project %q", v.projectID)
	}
	if err := p.dates(); err != nil {
		return Claims{}, err
	}
	if err := v.checkTimes(p, now); err != nil {
		return Claims{}, err
	}
	sub, err := subjectOf(p)
	if err != nil {
		return Claims{}, err
	}
	c := Claims{Subject: sub, ExpiresAt: p.ExpiresAt.UTC(), Name: displayClaim(p.Name), Email: displayClaim(p.Email)}
	if p.IssuedAt != nil {
		c.IssuedAt = p.IssuedAt.UTC()
	}
	if p.Audience != nil {
		c.Audience = *p.Audience
	}
	return c, nil
}

// The range of dates a token may carry. Outside it, the float-to-time
// conversion of NumericDate is not even well defined.
var (
	minDate = time.Unix(0, 0)
	maxDate = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// checkTimes applies exp (required), nbf, iat and the optional maximum
// lifetime, each with the verifier's leeway.
func (v *Verifier) checkTimes(p *payload, now time.Time) error {
	if p.ExpiresAt == nil {
		return refuse(ErrClaims, "no exp claim; user tokens must expire")
	}
	for _, d := range [...]struct {
		name string
		date *jwt.NumericDate
	}{{"exp", p.ExpiresAt}, {"nbf", p.NotBefore}, {"iat", p.IssuedAt}} {
		if d.date != nil && (d.date.Before(minDate) || d.date.After(maxDate)) {
			return refuse(ErrClaims, "%s is outside the years 1970 to 9999", d.name)
		}
	}
	exp := p.ExpiresAt.Time
	if !now.Before(exp.Add(v.leeway)) {
		return expired(exp, now)
	}
	if p.NotBefore != nil && now.Before(p.NotBefore.Add(-v.leeway)) {
		return refuse(ErrNotYetValid, "nbf is %s in the future", p.NotBefore.Sub(now).Round(time.Second))
	}
	if p.IssuedAt != nil && now.Before(p.IssuedAt.Add(-v.leeway)) {
		return refuse(ErrNotYetValid, "iat is %s in the future; check the signing server's clock", p.IssuedAt.Sub(now).Round(time.Second))
	}
	if v.maxLifetime > 0 {
		// Without iat, bound what is left instead (leeway covers the
		// signer's clock running ahead of ours).
		lifetime, limit := exp.Sub(now), v.maxLifetime+v.leeway
		if p.IssuedAt != nil {
			lifetime, limit = exp.Sub(p.IssuedAt.Time), v.maxLifetime
		}
		if lifetime > limit {
			how := "exp-iat"
			if p.IssuedAt == nil {
				how = "exp-now, the token has no iat"
			}
			return refuse(ErrLifetime, "lifetime %s (%s) exceeds the maximum of %s", lifetime.Round(time.Second), how, v.maxLifetime)
		}
	}
	return nil
}

// expired is the refusal for a token whose exp (plus leeway) has passed.
func expired(exp, now time.Time) *Error {
	return refuse(ErrExpired, "expired at %s (%s ago)", exp.UTC().Format(time.RFC3339), now.Sub(exp).Round(time.Second))
}

// clone returns a copy that shares no memory with c, so that a caller can
// never alter a cached entry.
func (c Claims) clone() Claims {
	c.Audience = slices.Clone(c.Audience)
	return c
}

// The methods below make payload a jwt.Claims. The parser runs with claims
// validation off (check does it), so they are only there for the interface.

func (p *payload) GetExpirationTime() (*jwt.NumericDate, error) { return p.ExpiresAt, nil }
func (p *payload) GetNotBefore() (*jwt.NumericDate, error)      { return p.NotBefore, nil }
func (p *payload) GetIssuedAt() (*jwt.NumericDate, error)       { return p.IssuedAt, nil }
func (p *payload) GetIssuer() (string, error)                   { return "", nil }
func (p *payload) GetSubject() (string, error)                  { return "", nil }
func (p *payload) GetAudience() (jwt.ClaimStrings, error) {
	if p.Audience == nil {
		return nil, nil
	}
	return *p.Audience, nil
}
