package usertoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Mint signs a user token for subject in project projectID, valid from now
// for ttl: claims sub, aud [projectID], iat and exp, and a kid header when
// kid is not empty. An RSA key (at least MinRSABits bits) signs RS256, an
// ECDSA P-256 key ES256. It is what an app's backend does; Plugboard uses
// it for `plugboard token` and in tests.
func Mint(key crypto.Signer, kid, projectID, subject string, ttl time.Duration, now time.Time) (string, error) {
	if key == nil {
		return "", errors.New("usertoken: no signing key")
	}
	alg, err := algorithmFor(key.Public())
	if err != nil {
		return "", fmt.Errorf("usertoken: %w", err)
	}
	var method jwt.SigningMethod
	switch key.(type) {
	case *rsa.PrivateKey:
		method = jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		method = jwt.SigningMethodES256
	default:
		return "", fmt.Errorf("usertoken: %s signing needs an *rsa.PrivateKey or *ecdsa.PrivateKey, not %T", alg, key)
	}
	if projectID == "" {
		return "", errors.New("usertoken: empty project id")
	}
	if err := checkSubject(subject); err != nil {
		return "", fmt.Errorf("usertoken: subject %w", err)
	}
	if ttl < time.Second {
		return "", fmt.Errorf("usertoken: ttl %s is shorter than a second", ttl)
	}
	t := jwt.NewWithClaims(method, jwt.RegisteredClaims{
		Subject:   subject,
		Audience:  jwt.ClaimStrings{projectID},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	})
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t.SignedString(key)
}
