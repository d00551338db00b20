// Package usertoken verifies the user tokens an app's backend signs for its
// end users, and mints them for the CLI and tests.
//
// A user token is a JWT signed with one of a project's keys: RS256 with an
// RSA key of at least 2048 bits, or ES256 with an ECDSA P-256 key. The
// algorithm is pinned to the key's type; `sub` (or, when it is absent, `id`)
// names the end user; `exp` is required; `exp`, `nbf` and `iat` must be JSON
// numbers (a string such as "9999999999" is refused); `aud`, when present,
// must name the project; `name` and `email`, when strings, are passed on for
// display. A [Verifier] checks all of this once per distinct token and then
// remembers the result, so a repeat costs a SHA-256 and a map read.
//
// Every refusal wraps one of the Err* kinds; [Code] gives its stable string
// for the gateway's JSON errors, and its message never repeats the token.
package usertoken
