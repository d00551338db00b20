package usertoken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// GenerateRSA returns a new RSA signing key of the given size in bits
// (at least MinRSABits; 2048 or 3072 are the usual choices).
func GenerateRSA(bits int) (*rsa.PrivateKey, error) {
	if bits < MinRSABits {
		return nil, fmt.Errorf("RSA keys need at least %d bits, not %d", MinRSABits, bits)
	}
	return rsa.GenerateKey(rand.Reader, bits)
}

// GenerateECDSA returns a new ECDSA P-256 signing key (tokens: ES256).
func GenerateECDSA() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}
