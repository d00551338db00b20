package store

import "github.com/google/uuid"

// newConnectionID returns a random (version 4, RFC 4122 variant) UUID in its
// canonical lowercase form. The @useparagon/connect SDK rejects other
// versions, so ids are never time-ordered (v7).
func newConnectionID() string { return uuid.NewString() }

// validConnectionID reports whether s is a canonical lowercase version 4 UUID.
func validConnectionID(s string) bool {
	u, err := uuid.Parse(s)
	// Parse also takes braces, URNs, hex without dashes and upper case:
	// only the canonical spelling is an id.
	return err == nil && u.String() == s && u.Version() == 4 && u.Variant() == uuid.RFC4122
}
