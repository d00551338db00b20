package usertoken

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// PEM block types.
const (
	pemPublicKey      = "PUBLIC KEY"      // PKIX SubjectPublicKeyInfo
	pemRSAPublicKey   = "RSA PUBLIC KEY"  // PKCS #1
	pemCertificate    = "CERTIFICATE"     // X.509; its public key is used
	pemPrivateKey     = "PRIVATE KEY"     // PKCS #8
	pemRSAPrivateKey  = "RSA PRIVATE KEY" // PKCS #1
	pemECPrivateKey   = "EC PRIVATE KEY"  // SEC 1
	pemECParameters   = "EC PARAMETERS"   // written by `openssl ecparam -genkey`; skipped
	pemEncryptedPKCS8 = "ENCRYPTED PRIVATE KEY"
)

// ParsePublicKeyPEM reads the first key in PEM data: a PKIX "PUBLIC KEY", a
// PKCS #1 "RSA PUBLIC KEY" or a "CERTIFICATE" (whose key is used; its
// validity dates and chain are not checked). The key must be RSA (at least
// MinRSABits bits) or ECDSA P-256.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, err := firstKeyBlock(data)
	if err != nil {
		return nil, err
	}
	var pub crypto.PublicKey
	switch block.Type {
	case pemPublicKey:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case pemRSAPublicKey:
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case pemCertificate:
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	case pemPrivateKey, pemRSAPrivateKey, pemECPrivateKey, pemEncryptedPKCS8:
		return nil, fmt.Errorf("PEM block %q is a private key; the gateway needs only the public key", block.Type)
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	if _, err := algorithmFor(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// ParsePrivateKeyPEM reads the first key in PEM data: PKCS #8 "PRIVATE KEY",
// PKCS #1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY" (an "EC PARAMETERS"
// block before it is skipped). Encrypted keys are not supported. The key
// must be RSA (at least MinRSABits bits) or ECDSA P-256.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, err := firstKeyBlock(data)
	if err != nil {
		return nil, err
	}
	if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		block.Type = pemEncryptedPKCS8 // legacy OpenSSL encryption: same answer
	}
	var key any
	switch block.Type {
	case pemPrivateKey:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemRSAPrivateKey:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case pemECPrivateKey:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case pemEncryptedPKCS8:
		return nil, errors.New("encrypted private keys are not supported; decrypt it first (openssl pkcs8 -topk8 -nocrypt)")
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	if _, err := algorithmFor(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// EncodePrivateKeyPEM encodes a signing key as a PKCS #8 "PRIVATE KEY" PEM
// block, which ParsePrivateKeyPEM and OpenSSL read.
func EncodePrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	if _, err := algorithmFor(key.Public()); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// EncodePublicKeyPEM encodes a public key as a PKIX "PUBLIC KEY" PEM block,
// which ParsePublicKeyPEM and OpenSSL read.
func EncodePublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	if _, err := algorithmFor(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der}), nil
}

// firstKeyBlock returns the first PEM block that is not EC parameters.
func firstKeyBlock(data []byte) (*pem.Block, error) {
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM key block found")
		}
		if block.Type != pemECParameters {
			return block, nil
		}
		data = rest
	}
}
