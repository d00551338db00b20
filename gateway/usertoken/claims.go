package usertoken

import (
	"encoding/json"
	"slices"
	"time"

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
}

// payload is a token's claims as the gateway decodes them. sub and id stay
// raw so that absent, empty and mistyped can be told apart; aud is a
// pointer so that absent and empty can.
type payload struct {
	Subject   json.RawMessage   `json:"sub"`
	UserID    json.RawMessage   `json:"id"`
	Audience  *jwt.ClaimStrings `json:"aud"`
	ExpiresAt *jwt.NumericDate  `json:"exp"`
	NotBefore *jwt.NumericDate  `json:"nbf"`
	IssuedAt  *jwt.NumericDate  `json:"iat"`
}

// check applies the claim rules to a payload whose signature verified.
func (v *Verifier) check(p *payload, now time.Time) (Claims, error) {
	if p.Audience != nil && !slices.Contains(*p.Audience, v.projectID) {
		return Claims{}, refuse(ErrAudience, "aud does not include project %q", v.projectID)
	}
	if err := v.checkTimes(p, now); err != nil {
		return Claims{}, err
	}
	sub, err := subjectOf(p)
	if err != nil {
		return Claims{}, err
	}
	c := Claims{Subject: sub, ExpiresAt: p.ExpiresAt.UTC()}
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
			return refuse(ErrClaims, "lifetime %s exceeds the maximum of %s", lifetime.Round(time.Second), v.maxLifetime)
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
