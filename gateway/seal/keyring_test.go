package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// Fixed test keys: 32 bytes each, in the four base64 spellings.
var (
	keyA    = bytes.Repeat([]byte{0xfb}, 32) // encodes with '+'/'-' and '/'/'_'
	keyB    = bytes.Repeat([]byte{0x42}, 32)
	keyAStd = base64.StdEncoding.EncodeToString(keyA)
	keyAURL = base64.URLEncoding.EncodeToString(keyA)
	keyBRaw = base64.RawStdEncoding.EncodeToString(keyB)
	keyBURL = base64.RawURLEncoding.EncodeToString(keyB)
)

func mustKeyring(t testing.TB, s string) *Keyring {
	t.Helper()
	kr, err := ParseKeyring(s)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return kr
}

func TestParseKeyringAccepts(t *testing.T) {
	for _, tc := range []struct {
		in      string
		current string
		ids     []string
	}{
		{"a:" + keyAStd, "a", []string{"a"}},
		{"a:" + keyAURL, "a", []string{"a"}},
		{"b:" + keyBRaw, "b", []string{"b"}},
		{"b:" + keyBURL, "b", []string{"b"}},
		{" new : " + keyBURL + " ,\n old:" + keyAStd + "\n", "new", []string{"new", "old"}},
		{"k20250101-ab12:" + keyAStd + ",K_9:" + keyBRaw, "k20250101-ab12", []string{"k20250101-ab12", "K_9"}},
		{strings.Repeat("x", 32) + ":" + keyAStd, strings.Repeat("x", 32), []string{strings.Repeat("x", 32)}},
	} {
		kr, err := ParseKeyring(tc.in)
		if err != nil {
			t.Errorf("ParseKeyring(entry %q…): %v", tc.current, err)
			continue
		}
		if kr.CurrentKeyID() != tc.current || fmt.Sprint(kr.KeyIDs()) != fmt.Sprint(tc.ids) {
			t.Errorf("ParseKeyring: current %q, ids %v; want %q, %v", kr.CurrentKeyID(), kr.KeyIDs(), tc.current, tc.ids)
		}
	}
	// The same key spelt four ways is the same key.
	sealed := mustKeyring(t, "a:"+keyAStd).Seal([]byte("x"), nil)
	if _, err := mustKeyring(t, "a:"+base64.RawURLEncoding.EncodeToString(keyA)).Open(sealed, nil); err != nil {
		t.Errorf("a key in URL base64 does not open what its standard spelling sealed: %v", err)
	}
}

func TestParseKeyringRejects(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(keyA[:16])
	for _, tc := range []struct {
		in   string
		want string // in the error
	}{
		{"", "none given"},
		{"  ", "none given"},
		{keyAStd, "entry 1 of 1 has no ':'"},
		{"a:" + keyAStd + ",", "entry 2 of 2 is empty"},
		{"a:" + keyAStd + ",," + "b:" + keyBRaw, "entry 2 of 3 is empty"},
		{":" + keyAStd, "entry 1 of 1: key id must be 1-32"},
		{"a.b:" + keyAStd, "entry 1 of 1: key id must be"},
		{strings.Repeat("x", 33) + ":" + keyAStd, "key id must be 1-32"},
		{"a:", `entry 1 of 1 (key id "a"): key is empty`},
		{"a:" + keyAStd + ",b:" + short, `entry 2 of 2 (key id "b"): key is 16 bytes, want 32`},
		{"a:" + base64.StdEncoding.EncodeToString(make([]byte, 35)), "key is 35 bytes"},
		{"a:" + keyAStd[:20] + "!" + keyAStd[21:], "not valid base64"},
		{"a:" + keyAStd + ",a:" + keyBRaw, `entry 2 of 2: key id "a" is used twice (see entry 1)`},
	} {
		_, err := ParseKeyring(tc.in)
		if err == nil {
			t.Errorf("ParseKeyring accepted a bad value (want error containing %q)", tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q does not contain %q", err, tc.want)
		}
		for _, secret := range []string{keyAStd, keyAStd[:16], keyBRaw, keyBRaw[:16], short, short[:16]} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains key material", err)
			}
		}
	}
}

func TestGenerateKey(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		entry, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		kr := mustKeyring(t, entry)
		kid := kr.CurrentKeyID()
		if !strings.HasPrefix(kid, "k") || len(kid) != len("k20060102-abcd") {
			t.Errorf("generated key id %q, want k<yyyymmdd>-<4 hex>", kid)
		}
		if seen[entry] {
			t.Errorf("GenerateKey repeated %s…", kid)
		}
		seen[entry] = true
	}
}

func TestSealOpen(t *testing.T) {
	kr := mustKeyring(t, "cur:"+keyAStd+",old:"+keyBRaw)
	aad := []byte("connection-1")
	for _, pt := range [][]byte{nil, {}, []byte("hello"), bytes.Repeat([]byte("€"), 10_000)} {
		sealed := kr.Seal(pt, aad)
		if !strings.HasPrefix(sealed, "v1.cur.") {
			t.Errorf("sealed value %q… does not start with v1.cur.", sealed[:10])
		}
		if strings.ContainsAny(sealed[len("v1.cur."):], ".+/=") {
			t.Error("sealed body is not unpadded base64url")
		}
		got, err := kr.Open(sealed, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("Open(Seal(%d bytes)) = %d bytes, %v", len(pt), len(got), err)
		}
	}
	if a, b := kr.Seal([]byte("same"), aad), kr.Seal([]byte("same"), aad); a == b {
		t.Error("two seals of the same plaintext are equal: nonce reuse")
	}
	// A value sealed with the non-current key still opens.
	oldOnly := mustKeyring(t, "old:"+keyBRaw)
	if _, err := kr.Open(oldOnly.Seal([]byte("x"), aad), aad); err != nil {
		t.Errorf("the decrypt-only key does not open its values: %v", err)
	}
}

func TestOpenRejects(t *testing.T) {
	kr := mustKeyring(t, "cur:"+keyAStd)
	aad := []byte("connection-1")
	sealed := kr.Seal([]byte("top secret"), aad)

	if _, err := kr.Open(sealed, []byte("connection-2")); !errors.Is(err, ErrCiphertextInvalid) {
		t.Errorf("Open with another AAD: %v, want ErrCiphertextInvalid", err)
	}
	if _, err := kr.Open(sealed, nil); !errors.Is(err, ErrCiphertextInvalid) {
		t.Errorf("Open without AAD: %v, want ErrCiphertextInvalid", err)
	}
	// Flip every bit of the body, one at a time.
	body, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "v1.cur."))
	for i := range len(body) * 8 {
		tampered := bytes.Clone(body)
		tampered[i/8] ^= 1 << (i % 8)
		if _, err := kr.Open("v1.cur."+base64.RawURLEncoding.EncodeToString(tampered), aad); !errors.Is(err, ErrCiphertextInvalid) {
			t.Fatalf("bit %d flipped: Open = %v, want ErrCiphertextInvalid", i, err)
		}
	}
	for _, bad := range []string{
		"", "v1", "v1.cur", "v2.cur." + sealed[7:], "v1..abc", "v1.c/r.abc",
		"v1.cur.!!!", "v1.cur." + sealed[7:20], sealed + "A",
	} {
		if _, err := kr.Open(bad, aad); !errors.Is(err, ErrCiphertextInvalid) {
			t.Errorf("Open(%q): %v, want ErrCiphertextInvalid", bad, err)
		}
	}
	// The key id is authenticated: relabelling a value with another id of
	// the same key does not open.
	twin := mustKeyring(t, "cur:"+keyAStd+",twin:"+keyAStd)
	if _, err := twin.Open("v1.twin."+sealed[len("v1.cur."):], aad); !errors.Is(err, ErrCiphertextInvalid) {
		t.Errorf("relabelled key id: %v, want ErrCiphertextInvalid", err)
	}
}

func TestOpenUnknownKey(t *testing.T) {
	sealed := mustKeyring(t, "gone:"+keyAStd).Seal([]byte("x"), nil)
	_, err := mustKeyring(t, "cur:"+keyBRaw).Open(sealed, nil)
	if !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("Open: %v, want ErrKeyUnknown", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, `"gone"`) || !strings.Contains(msg, "cur") {
		t.Errorf("error %q does not name the missing key id and the keyring's ids", msg)
	}
	if strings.Contains(msg, keyAStd[:16]) || strings.Contains(msg, keyBRaw[:16]) {
		t.Errorf("error %q contains key material", msg)
	}
}

func TestKeyringNeverShowsKeys(t *testing.T) {
	kr := mustKeyring(t, "cur:"+keyAStd+",old:"+keyBRaw)
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d", "%q"} {
		fmt.Fprintf(&out, verb+"\n", kr)
		fmt.Fprintf(&out, verb+"\n", *kr)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("k", "keyring", kr)
	slog.New(slog.NewTextHandler(&out, nil)).Info("k", "keyring", kr)
	if !strings.Contains(out.String(), "cur") {
		t.Fatalf("output does not even name the key ids:\n%s", out.String())
	}
	for _, secret := range [][]byte{keyA, keyB, []byte(keyAStd[:16]), []byte(keyBRaw[:16]),
		[]byte(fmt.Sprintf("%x", keyA[:8])), []byte(fmt.Sprint(keyA[:8]))} {
		if bytes.Contains(out.Bytes(), secret) {
			t.Errorf("key material printed:\n%s", out.String())
		}
	}
}
