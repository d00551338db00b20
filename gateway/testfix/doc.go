// Package testfix holds the fixtures Plugboard's tests share: waiting for a
// condition (Eventually) and running the plugboard binary (Plugboard,
// Start, Process.Listening), so that no test package carries its own
// poller or process harness.
//
// It is an ordinary package (like net/http/httptest), not an internal one:
// cmd/plugboard and examples/ use it as much as gateway/ does, and the
// module's top level is fixed. Only tests import it.
package testfix
