package usertoken

import (
	"errors"
	"fmt"
)

// The kinds of refusal. Every error [Verifier.Verify] returns wraps exactly
// one of them: branch with errors.Is, and use [Code] for the stable string
// the gateway puts in its JSON errors.
var (
	// ErrMalformed: not a JWT at all, too large, or an unusable header.
	ErrMalformed error = &kind{"token_malformed", "user token is malformed"}
	// ErrAlgorithm: alg is missing, unsupported, or not the one the key's
	// type allows (RS256 for RSA, ES256 for P-256).
	ErrAlgorithm error = &kind{"token_algorithm_refused", "user token algorithm is not accepted"}
	// ErrUnknownKey: kid names none of the project's keys.
	ErrUnknownKey error = &kind{"token_unknown_key", "user token is signed with an unknown key"}
	// ErrSignature: the signature does not verify.
	ErrSignature error = &kind{"token_signature_invalid", "user token signature is invalid"}
	// ErrExpired: exp has passed (beyond the leeway).
	ErrExpired error = &kind{"token_expired", "user token has expired"}
	// ErrNotYetValid: nbf or iat is in the future (beyond the leeway).
	ErrNotYetValid error = &kind{"token_not_yet_valid", "user token is not valid yet"}
	// ErrAudience: aud is present and does not name this project.
	ErrAudience error = &kind{"token_audience_mismatch", "user token is for another audience"}
	// ErrLifetime: exp is further from iat (or, without iat, from now)
	// than the verifier's MaxLifetime.
	ErrLifetime error = &kind{"token_lifetime_exceeded", "user token lives longer than this gateway allows"}
	// ErrClaims: a claim is missing, of the wrong type or out of bounds.
	ErrClaims error = &kind{"token_claims_invalid", "user token claims are invalid"}
)

// kind is the type of the Err* values: a stable code and a short message.
type kind struct{ code, message string }

func (k *kind) Error() string { return k.message }

// Error is a refusal from [Verifier.Verify]. Its message is safe to return
// to the caller: it says what is wrong without repeating the token.
type Error struct {
	kind *kind
	// Detail says precisely what is wrong, e.g. "expired at
	// 2026-01-02T15:04:05Z (3m0s ago)".
	Detail string
}

// Error returns the kind's message followed by the detail.
func (e *Error) Error() string {
	if e.Detail == "" {
		return e.kind.message
	}
	return e.kind.message + ": " + e.Detail
}

// Unwrap returns the error's kind, one of the Err* values.
func (e *Error) Unwrap() error { return e.kind }

// Code returns the stable code of the error's kind, e.g. "token_expired".
func (e *Error) Code() string { return e.kind.code }

// Code returns the stable code of an error from this package (for example
// "token_expired"), or "" when err is not one.
func Code(err error) string {
	var k *kind
	if errors.As(err, &k) {
		return k.code
	}
	return ""
}

// refuse builds an *Error of the given kind (one of the Err* values).
func refuse(kindErr error, format string, args ...any) *Error {
	return &Error{kind: kindErr.(*kind), Detail: fmt.Sprintf(format, args...)}
}
