package store

import "testing"

func TestNewConnectionID(t *testing.T) {
	seen := map[string]bool{}
	for range 10_000 {
		id := newConnectionID()
		if !validConnectionID(id) {
			t.Fatalf("newConnectionID() = %q, not a canonical UUID v4", id)
		}
		if seen[id] {
			t.Fatalf("newConnectionID repeated %s", id)
		}
		seen[id] = true
	}
}

func TestValidConnectionID(t *testing.T) {
	for id, want := range map[string]bool{
		"6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50":   true,
		"6f1c2a4e-8b3d-4c5e-af7a-0b1c2d3e4f50":   true,
		"01890a5d-ac96-774b-bcce-b302099a8057":   false, // v7
		"6f1c2a4e-8b3d-1c5e-9f7a-0b1c2d3e4f50":   false, // v1
		"6f1c2a4e-8b3d-4c5e-cf7a-0b1c2d3e4f50":   false, // Microsoft variant
		"6F1C2A4E-8B3D-4C5E-9F7A-0B1C2D3E4F50":   false, // not canonical
		"6f1c2a4e8b3d4c5e9f7a0b1c2d3e4f50":       false,
		"{6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50}": false,
		"6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f5g":   false,
		"":                                       false,
	} {
		if got := validConnectionID(id); got != want {
			t.Errorf("validConnectionID(%q) = %v, want %v", id, got, want)
		}
	}
}
