package usertoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func rsaKeyOfSize(bits int) (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, bits) }

func p384(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ed25519Key(t testing.TB) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func selfSigned(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "plugboard test"},
		NotBefore:    t0,
		NotAfter:     t0.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("CERTIFICATE", der)
}

func TestParsePublicKeyPEM(t *testing.T) {
	k := keys(t)
	pkix := func(pub crypto.PublicKey) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("PUBLIC KEY", der)
	}
	small, err := rsaKeyOfSize(1024)
	if err != nil {
		t.Fatal(err)
	}
	private, err := EncodePrivateKeyPEM(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		want    crypto.PublicKey
		wantErr string
	}{
		{name: "PKIX RSA", data: pkix(k.rsa.Public()), want: k.rsa.Public()},
		{name: "PKIX EC", data: pkix(k.ec.Public()), want: k.ec.Public()},
		{name: "PKCS1 RSA", data: pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)), want: k.rsa.Public()},
		{name: "RSA certificate", data: selfSigned(t, k.rsa), want: k.rsa.Public()},
		{name: "EC certificate", data: selfSigned(t, k.ec), want: k.ec.Public()},
		{name: "text around the block", data: append(append([]byte("# project key\n"), pkix(k.ec.Public())...), "trailer\n"...), want: k.ec.Public()},
		{name: "empty", data: nil, wantErr: "no PEM key block"},
		{name: "not PEM", data: []byte("hello"), wantErr: "no PEM key block"},
		{name: "private key", data: private, wantErr: "is a private key"},
		{name: "other block", data: pemOf("CERTIFICATE REQUEST", []byte{1}), wantErr: "not a public key"},
		{name: "corrupt DER", data: pemOf("PUBLIC KEY", []byte{1, 2, 3}), wantErr: "parsing PUBLIC KEY"},
		{name: "small RSA", data: pkix(small.Public()), wantErr: "1024 bits"},
		{name: "P-384", data: pkix(p384(t).Public()), wantErr: "P-384"},
		{name: "Ed25519", data: pkix(ed25519Key(t)), wantErr: "unsupported key type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePublicKeyPEM(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.want) {
				t.Fatal("parsed key differs")
			}
		})
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	k := keys(t)
	pkcs8 := func(key crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("PRIVATE KEY", der)
	}
	sec1, err := x509.MarshalECPrivateKey(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := pemOf("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"},
		Bytes:   []byte{1, 2, 3},
	})
	tests := []struct {
		name    string
		data    []byte
		want    crypto.Signer
		wantErr string
	}{
		{name: "PKCS8 RSA", data: pkcs8(k.rsa), want: k.rsa},
		{name: "PKCS8 EC", data: pkcs8(k.ec), want: k.ec},
		{name: "PKCS1 RSA", data: pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa)), want: k.rsa},
		{name: "SEC1 EC", data: pemOf("EC PRIVATE KEY", sec1), want: k.ec},
		{name: "SEC1 EC after EC PARAMETERS", data: append(ecParams, pemOf("EC PRIVATE KEY", sec1)...), want: k.ec},
		{name: "public key", data: pemOf("PUBLIC KEY", []byte{1}), wantErr: "not a private key"},
		{name: "encrypted PKCS8", data: pemOf("ENCRYPTED PRIVATE KEY", []byte{1}), wantErr: "encrypted private keys are not supported"},
		{name: "legacy encrypted", data: legacyEncrypted, wantErr: "encrypted private keys are not supported"},
		{name: "corrupt", data: pemOf("PRIVATE KEY", []byte{1}), wantErr: "parsing PRIVATE KEY"},
		{name: "P-384", data: pkcs8(p384(t)), wantErr: "P-384"},
		{name: "none", data: []byte("nothing"), wantErr: "no PEM key block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrivateKeyPEM(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.(interface{ Equal(crypto.PrivateKey) bool }).Equal(tc.want) {
				t.Fatal("parsed key differs")
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	k := keys(t)
	for _, key := range []crypto.Signer{k.rsa, k.ec} {
		priv, err := EncodePrivateKeyPEM(key)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePrivateKeyPEM(priv)
		if err != nil {
			t.Fatal(err)
		}
		if !back.(interface{ Equal(crypto.PrivateKey) bool }).Equal(key) {
			t.Fatalf("%T: private key round trip differs", key)
		}
		pub, err := EncodePublicKeyPEM(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(pub), "-----BEGIN PUBLIC KEY-----") {
			t.Fatalf("public PEM starts %q", pub[:30])
		}
		backPub, err := ParsePublicKeyPEM(pub)
		if err != nil {
			t.Fatal(err)
		}
		if !backPub.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
			t.Fatalf("%T: public key round trip differs", key)
		}
	}
	if _, err := EncodePublicKeyPEM(ed25519Key(t)); err == nil {
		t.Fatal("EncodePublicKeyPEM accepted an Ed25519 key")
	}
}

func TestGenerate(t *testing.T) {
	if _, err := GenerateRSA(1024); err == nil || !strings.Contains(err.Error(), "2048") {
		t.Fatalf("GenerateRSA(1024) err = %v", err)
	}
	k, err := GenerateECDSA()
	if err != nil {
		t.Fatal(err)
	}
	if k.Curve != elliptic.P256() {
		t.Fatalf("curve %s", k.Curve.Params().Name)
	}
	if keys(t).rsa.N.BitLen() != 2048 {
		t.Fatal("GenerateRSA(2048) made another size")
	}
}

func TestKeyID(t *testing.T) {
	k := keys(t)
	ids := map[string]bool{}
	for _, key := range []crypto.Signer{k.rsa, k.rsaOther, k.ec, k.ecOther} {
		id, err := KeyID(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 11 || strings.ContainsAny(id, "+/=") {
			t.Fatalf("KeyID = %q, want 11 base64url characters", id)
		}
		// Stable: the same key parsed back from PEM has the same id.
		data, err := EncodePublicKeyPEM(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParsePublicKeyPEM(data)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := KeyID(parsed); again != id {
			t.Fatalf("KeyID changed from %q to %q", id, again)
		}
		if ids[id] {
			t.Fatalf("KeyID %q repeated for another key", id)
		}
		ids[id] = true
	}
	if _, err := KeyID(ed25519Key(t)); err == nil {
		t.Fatal("KeyID accepted an Ed25519 key")
	}
}

func TestInvalidECPoint(t *testing.T) {
	pub := keys(t).ec.PublicKey
	// Only the deprecated raw coordinates can build a point off the curve,
	// which is what this test needs.
	//lint:ignore SA1019 an invalid key is the point of the test
	bad := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).Add(pub.X, big.NewInt(1)), Y: pub.Y}
	if _, err := NewVerifier(project, []PublicKey{{ID: "x", Key: bad}}, Options{}); err == nil {
		t.Fatal("NewVerifier accepted a point off the curve")
	}
}
