package usertoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
)

// MinRSABits is the smallest RSA modulus accepted, for verifying and minting.
const MinRSABits = 2048

// PublicKey is one of a project's token-verification keys.
type PublicKey struct {
	// ID is the key id a token names in its kid header. Empty means
	// KeyID(Key).
	ID string
	// Key is an *rsa.PublicKey of at least MinRSABits bits (tokens: RS256)
	// or an *ecdsa.PublicKey on P-256 (tokens: ES256).
	Key crypto.PublicKey
}

// algorithmFor returns the one JWS algorithm a supported key verifies, or
// an error saying why the key is not supported.
func algorithmFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "", fmt.Errorf("empty RSA key")
		}
		if bits := k.N.BitLen(); bits < MinRSABits {
			return "", fmt.Errorf("RSA key has %d bits; at least %d are required", bits, MinRSABits)
		}
		return "RS256", nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", fmt.Errorf("empty ECDSA key")
		}
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA key is on %s; only P-256 (ES256) is supported", k.Curve.Params().Name)
		}
		// ECDH validates the point, which ecdsa.PublicKey itself does not.
		if _, err := k.ECDH(); err != nil {
			return "", fmt.Errorf("invalid ECDSA P-256 key: %w", err)
		}
		return "ES256", nil
	default:
		return "", fmt.Errorf("unsupported key type %T; use RSA (at least %d bits) or ECDSA P-256", pub, MinRSABits)
	}
}

// KeyID derives a stable key id from a public key: the unpadded base64url
// form of the first 8 bytes of the SHA-256 of its PKIX (SubjectPublicKeyInfo)
// DER encoding, 11 characters. The same key always gets the same id, so the
// signer and the gateway agree on it without configuration.
func KeyID(pub crypto.PublicKey) (string, error) {
	if _, err := algorithmFor(pub); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:8]), nil
}
