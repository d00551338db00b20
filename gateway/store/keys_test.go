package store

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/seal"
)

// Fixed test keys (32 bytes each).
var (
	keyAStd = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	keyBRaw = base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0x42}, 32))
)

func mustKeyring(t testing.TB, s string) *seal.Keyring {
	t.Helper()
	kr, err := seal.ParseKeyring(s)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return kr
}
