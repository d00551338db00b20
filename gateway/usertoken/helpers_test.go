package usertoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const project = "proj-1"

// t0 is the fake clock's start, on a whole second as NumericDate truncates.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testKeys are generated once per test binary: RSA generation is slow.
type testKeys struct {
	rsa, rsaOther *rsa.PrivateKey
	ec, ecOther   *ecdsa.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
	keysErr  error
)

func keys(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() { keysVal, keysErr = generateTestKeys() })
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keysVal
}

func generateTestKeys() (k testKeys, err error) {
	if k.rsa, err = GenerateRSA(2048); err != nil {
		return k, err
	}
	if k.rsaOther, err = GenerateRSA(2048); err != nil {
		return k, err
	}
	if k.ec, err = GenerateECDSA(); err != nil {
		return k, err
	}
	k.ecOther, err = GenerateECDSA()
	return k, err
}

// clock is a settable time source safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func kid(t testing.TB, k crypto.Signer) string {
	t.Helper()
	id, err := KeyID(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newTestVerifier verifies project's tokens with the RSA and the EC key
// (ids from KeyID) on a fake clock at t0.
func newTestVerifier(t testing.TB, opts Options) (*Verifier, *clock) {
	t.Helper()
	k := keys(t)
	c := newClock(t0)
	if opts.Now == nil {
		opts.Now = c.now
	}
	v, err := NewVerifier(project, []PublicKey{{Key: k.rsa.Public()}, {Key: k.ec.Public()}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v, c
}

// claims are a valid token's claims at t0; tests edit a copy.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "user-42",
		"aud": []string{project},
		"iat": t0.Unix(),
		"exp": t0.Add(time.Hour).Unix(),
	}
}

// sign signs claims with method and key, adding a kid header unless kid is "".
func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// raw assembles a token from a JSON header, a JSON payload and raw
// signature bytes, without signing.
func raw(header, payload string, sig []byte) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(sig)
}

// resign replaces a token's header with header (a JSON object) and signs
// the result with key: for headers the library will not write.
func resign(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	sig, err := method.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

// edit returns a copy of validClaims with changes applied; a nil value
// deletes the claim.
func edit(changes jwt.MapClaims) jwt.MapClaims {
	c := validClaims()
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// segments returns a token's three parts.
func segments(tok string) []string { return strings.Split(tok, ".") }
