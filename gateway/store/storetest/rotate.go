package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
)

// rotateRows spans several of any sensible batch size.
const rotateRows = 450

// testRotate: after the current key changes, Rotate re-seals every row;
// the old key can then go and everything still opens.
func testRotate(t *testing.T, h *harness) {
	oldKey, newKey := Key(t, "old"), Key(t, "new")

	s := h.open(t, Keyring(t, oldKey))
	var want []*connection.Connection
	for i := range rotateRows {
		want = append(want, create(t, s, newConnection("p1", fmt.Sprintf("user-%d", i%7), fmt.Sprintf("int-%d", i%3))))
	}
	if n, err := s.Rotate(t.Context()); err != nil || n != 0 {
		t.Fatalf("Rotate with an unchanged key = %d, %v; want 0", n, err)
	}
	closeStore(t, s)

	// New key first; the old one still decrypts.
	s = h.open(t, Keyring(t, newKey, oldKey))
	sameConnection(t, get(t, s, want[0]), want[0])
	fresh := create(t, s, newConnection("p1", "user-new", "int-0"))
	want = append(want, fresh)
	n, err := s.Rotate(t.Context())
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if n != rotateRows {
		t.Errorf("Rotate rewrote %d rows, want %d (the row sealed with the new key needs none)", n, rotateRows)
	}
	if n, err := s.Rotate(t.Context()); err != nil || n != 0 {
		t.Errorf("second Rotate = %d, %v; want 0", n, err)
	}
	closeStore(t, s)

	// The old key is gone: every row must still open, unchanged (Rotate
	// does not bump Version).
	s = h.open(t, Keyring(t, newKey))
	for _, c := range want {
		sameConnection(t, get(t, s, c), c)
	}
	closeStore(t, s)

	// Proof that the old key really is unused now, and that a missing key
	// is reported as such.
	s = h.open(t, Keyring(t, oldKey))
	if _, err := s.Get(t.Context(), want[0].ProjectID, want[0].UserID, want[0].ID); !errors.Is(err, store.ErrKeyUnknown) {
		t.Errorf("Get with only the retired key: %v, want ErrKeyUnknown", err)
	}
}

// testRotateUnknownKey: a row sealed with a key the keyring lacks stops
// Rotate with ErrKeyUnknown rather than being skipped or damaged.
func testRotateUnknownKey(t *testing.T, h *harness) {
	lost, current := Key(t, "lost"), Key(t, "current")
	s := h.open(t, Keyring(t, lost))
	c := create(t, s, newConnection("p1", "u1", "github"))
	closeStore(t, s)

	s = h.open(t, Keyring(t, current))
	if _, err := s.Rotate(t.Context()); !errors.Is(err, store.ErrKeyUnknown) {
		t.Errorf("Rotate over a row sealed with a missing key: %v, want ErrKeyUnknown", err)
	}
	closeStore(t, s)

	s = h.open(t, Keyring(t, lost))
	sameConnection(t, get(t, s, c), c)
}

func closeStore(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
