package usertoken

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxSubjectLength is the longest subject accepted, in characters. The
// subject keys the end user's connections in the store.
const MaxSubjectLength = 256

// subjectOf returns the end user a token names: its sub claim, or its id
// claim when sub is absent (as the @useparagon/connect SDK reads it).
func subjectOf(p *payload) (string, error) {
	raw, claim := p.Subject, "sub"
	if absent(raw) {
		raw, claim = p.UserID, "id"
	}
	if absent(raw) {
		return "", refuse(ErrClaims, "no sub claim naming the end user")
	}
	var s string
	switch {
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", refuse(ErrClaims, "%s is not a valid JSON string", claim)
		}
	case claim == "id" && isInteger(raw):
		s = string(raw) // a numeric user id, kept as written
	case claim == "id":
		return "", refuse(ErrClaims, "id must be a string or an integer")
	default:
		return "", refuse(ErrClaims, "sub must be a string")
	}
	if err := checkSubject(s); err != nil {
		return "", refuse(ErrClaims, "%s %v", claim, err)
	}
	return s, nil
}

// checkSubject applies the rules every subject follows, minted or verified.
func checkSubject(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is empty")
	case !utf8.ValidString(s):
		return fmt.Errorf("is not valid UTF-8")
	case utf8.RuneCountInString(s) > MaxSubjectLength:
		return fmt.Errorf("is longer than %d characters", MaxSubjectLength)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains a control character")
		}
	}
	return nil
}

// absent reports whether a raw claim was missing or null.
func absent(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// isInteger reports whether a JSON number is written as a plain integer.
func isInteger(raw []byte) bool {
	if len(raw) > 0 && raw[0] == '-' {
		raw = raw[1:]
	}
	if len(raw) == 0 {
		return false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
