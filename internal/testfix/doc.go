// Package testfix holds the fixtures Plugboard's tests share: waiting for a
// condition (Eventually) and running the plugboard binary (Plugboard,
// Start, Process.Listening), so that no test package carries its own
// poller or process harness.
//
// It sits in the module's top-level internal/ folder, not under gateway/,
// because Go lets only the tree above an internal/ folder import it, and
// cmd/plugboard and examples/ use it as much as gateway/ does.
package testfix
