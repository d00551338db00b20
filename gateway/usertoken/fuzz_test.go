package usertoken

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify checks that no input panics, that every refusal is an *Error
// with a code, and that whatever is accepted has a subject.
func FuzzVerify(f *testing.F) {
	k := keys(f)
	f.Add(sign(f, jwt.SigningMethodRS256, k.rsa, kid(f, k.rsa), validClaims()))
	f.Add(sign(f, jwt.SigningMethodES256, k.ec, "", validClaims()))
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", validClaims()))
	f.Add(raw(`{"alg":"RS256","crit":["x"]}`, `{"sub":1}`, nil))
	f.Add("a.b.c")
	f.Add("")
	v, err := NewVerifier(project, []PublicKey{{Key: k.rsa.Public()}, {Key: k.ec.Public()}},
		Options{CacheSize: 64, Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token)
		if err == nil {
			if c.Subject == "" || c.ExpiresAt.IsZero() {
				t.Fatalf("accepted without subject or expiry: %+v", c)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || Code(err) == "" {
			t.Fatalf("refusal %T %v has no code", err, err)
		}
	})
}
