package usertoken

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerify(t *testing.T) {
	k := keys(t)
	rsaKid, ecKid := kid(t, k.rsa), kid(t, k.ec)
	rs256, es256 := jwt.SigningMethodRS256, jwt.SigningMethodES256
	valid := sign(t, rs256, k.rsa, rsaKid, validClaims())
	parts := segments(valid)

	der, err := x509.MarshalPKIXPublicKey(k.rsa.Public())
	if err != nil {
		t.Fatal(err)
	}
	rsaPublicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	tests := []struct {
		name    string
		token   string
		opts    *Options      // for a verifier built just for this case
		ecOnly  bool          // verifier holds only the EC key
		at      time.Duration // clock offset from t0
		want    error
		wantSub string
	}{
		// Accepted.
		{name: "RS256 with kid", token: valid, wantSub: "user-42"},
		{name: "ES256 with kid", token: sign(t, es256, k.ec, ecKid, validClaims()), wantSub: "user-42"},
		{name: "RS256 without kid", token: sign(t, rs256, k.rsa, "", validClaims()), wantSub: "user-42"},
		{name: "ES256 without kid", token: sign(t, es256, k.ec, "", validClaims()), wantSub: "user-42"},
		{name: "aud as a string", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"aud": project})), wantSub: "user-42"},
		{name: "aud among others", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"aud": []string{"x", project}})), wantSub: "user-42"},
		{name: "no aud", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"aud": nil})), wantSub: "user-42"},
		{name: "no iat", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"iat": nil})), wantSub: "user-42"},
		{name: "id when sub is absent", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": nil, "id": "u-7"})), wantSub: "u-7"},
		{name: "integer id", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": nil, "id": 1234})), wantSub: "1234"},
		{name: "sub wins over id", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"id": "u-7"})), wantSub: "user-42"},
		{name: "sub of 256 characters", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": strings.Repeat("é", 256)})), wantSub: strings.Repeat("é", 256)},
		{name: "expired within leeway", token: valid, at: time.Hour + 29*time.Second, wantSub: "user-42"},
		{name: "nbf within leeway", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"nbf": t0.Add(20 * time.Second).Unix()})), wantSub: "user-42"},
		{name: "iat within leeway", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"iat": t0.Add(20 * time.Second).Unix()})), wantSub: "user-42"},
		{name: "lifetime at the maximum", token: valid, opts: &Options{MaxLifetime: time.Hour}, wantSub: "user-42"},

		// Algorithm confusion.
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", validClaims()), want: ErrAlgorithm},
		{name: "alg none with kid", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, rsaKid, validClaims()), want: ErrAlgorithm},
		{name: "alg none, empty signature", token: raw(`{"alg":"none"}`, `{"sub":"a","exp":9999999999}`, nil), want: ErrAlgorithm},
		{name: "HS256 keyed with the public key PEM", token: sign(t, jwt.SigningMethodHS256, rsaPublicPEM, "", validClaims()), want: ErrAlgorithm},
		{name: "HS256 keyed with the public key PEM, with kid", token: sign(t, jwt.SigningMethodHS256, rsaPublicPEM, rsaKid, validClaims()), want: ErrAlgorithm},
		{name: "HS256 keyed with the public key DER", token: sign(t, jwt.SigningMethodHS256, der, "", validClaims()), want: ErrAlgorithm},
		{name: "RS256 against an EC key", token: sign(t, rs256, k.rsa, "", validClaims()), ecOnly: true, want: ErrAlgorithm},
		{name: "RS256 naming the EC key", token: sign(t, rs256, k.rsa, ecKid, validClaims()), want: ErrAlgorithm},
		{name: "ES256 naming the RSA key", token: sign(t, es256, k.ec, rsaKid, validClaims()), want: ErrAlgorithm},
		{name: "PS256 with the RSA key", token: sign(t, jwt.SigningMethodPS256, k.rsa, "", validClaims()), want: ErrAlgorithm},
		{name: "PS256 naming the RSA key", token: sign(t, jwt.SigningMethodPS256, k.rsa, rsaKid, validClaims()), want: ErrAlgorithm},
		{name: "RS512", token: sign(t, jwt.SigningMethodRS512, k.rsa, "", validClaims()), want: ErrAlgorithm},
		{name: "unknown alg", token: raw(`{"alg":"XX256"}`, `{"sub":"a","exp":9999999999}`, []byte("sig")), want: ErrAlgorithm},
		{name: "no alg", token: raw(`{"typ":"JWT"}`, `{"sub":"a","exp":9999999999}`, []byte("sig")), want: ErrAlgorithm},
		{name: "alg not a string", token: raw(`{"alg":["RS256"]}`, `{"sub":"a","exp":9999999999}`, []byte("sig")), want: ErrAlgorithm},

		// Keys and signatures.
		{name: "unknown kid", token: sign(t, rs256, k.rsa, "nope", validClaims()), want: ErrUnknownKey},
		{name: "empty kid", token: resign(t, rs256, k.rsa, map[string]any{"alg": "RS256", "kid": ""}, validClaims()), want: ErrUnknownKey},
		{name: "other project's key, its kid", token: sign(t, rs256, k.rsaOther, kid(t, k.rsaOther), validClaims()), want: ErrUnknownKey},
		{name: "other project's key, no kid", token: sign(t, rs256, k.rsaOther, "", validClaims()), want: ErrSignature},
		{name: "other project's key, our kid", token: sign(t, rs256, k.rsaOther, rsaKid, validClaims()), want: ErrSignature},
		{name: "other project's EC key, no kid", token: sign(t, es256, k.ecOther, "", validClaims()), want: ErrSignature},
		{name: "kid not a string", token: resign(t, rs256, k.rsa, map[string]any{"alg": "RS256", "kid": 7}, validClaims()), want: ErrMalformed},
		{name: "crit header", token: resign(t, rs256, k.rsa, map[string]any{"alg": "RS256", "crit": []string{"exp"}}, validClaims()), want: ErrMalformed},
		{name: "tampered payload", token: parts[0] + "." + segments(sign(t, rs256, k.rsaOther, "", edit(jwt.MapClaims{"sub": "admin"})))[1] + "." + parts[2], want: ErrSignature},
		{name: "tampered signature", token: parts[0] + "." + parts[1] + "." + flip(parts[2]), want: ErrSignature},
		{name: "tampered ES256 signature", token: tamperSig(sign(t, es256, k.ec, ecKid, validClaims())), want: ErrSignature},
		{name: "truncated signature", token: parts[0] + "." + parts[1] + "." + parts[2][:40], want: ErrSignature},
		{name: "empty signature", token: parts[0] + "." + parts[1] + ".", want: ErrSignature},
		{name: "signature padded", token: valid + "==", want: ErrMalformed},

		// Times.
		{name: "expired", token: valid, at: 2 * time.Hour, want: ErrExpired},
		{name: "expired beyond leeway", token: valid, at: time.Hour + 30*time.Second, want: ErrExpired},
		{name: "expired, no leeway", token: valid, opts: &Options{Leeway: -1}, at: time.Hour, want: ErrExpired},
		{name: "expired, longer leeway", token: valid, opts: &Options{Leeway: 2 * time.Minute}, at: time.Hour + time.Minute, wantSub: "user-42"},
		{name: "nbf in the future", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"nbf": t0.Add(time.Minute).Unix()})), want: ErrNotYetValid},
		{name: "iat in the future", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"iat": t0.Add(time.Minute).Unix()})), want: ErrNotYetValid},
		{name: "no exp", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": nil})), want: ErrClaims},
		{name: "exp null", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": json.RawMessage("null")})), want: ErrClaims},
		{name: "exp a string", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": "tomorrow"})), want: ErrClaims},
		// Numeric dates of the wrong JSON type, correctly signed: a string
		// holding a number (jwt.NumericDate alone accepts it), bools,
		// objects, arrays.
		{name: "exp a numeric string", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": "9999999999"})), want: ErrClaims},
		{name: "exp a numeric string, no iat", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": "9999999999", "iat": nil})), want: ErrClaims},
		{name: "exp a near numeric string", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": fmt.Sprint(t0.Add(time.Hour).Unix())})), want: ErrClaims},
		{name: "exp true", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": true})), want: ErrClaims},
		{name: "exp an object", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": map[string]any{"s": 9999999999}})), want: ErrClaims},
		{name: "exp an array", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": []any{9999999999}})), want: ErrClaims},
		{name: "nbf a numeric string", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"nbf": "0"})), want: ErrClaims},
		{name: "nbf false", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"nbf": false})), want: ErrClaims},
		{name: "nbf null", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"nbf": json.RawMessage("null")})), want: ErrClaims},
		{name: "iat a numeric string", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"iat": fmt.Sprint(t0.Unix())})), want: ErrClaims},
		{name: "iat an object", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"iat": map[string]any{}})), want: ErrClaims},
		{name: "fractional exp", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": float64(t0.Add(time.Hour).Unix()) + 0.5})), wantSub: "user-42"},
		{name: "exp huge", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": 1e300})), want: ErrClaims},
		{name: "exp beyond year 9999", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": 253402300800})), want: ErrClaims},
		{name: "nbf negative", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"nbf": -1})), want: ErrClaims},
		{name: "lifetime over the maximum", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"exp": t0.Add(25 * time.Hour).Unix()})), opts: &Options{MaxLifetime: 24 * time.Hour}, want: ErrLifetime},
		{name: "lifetime over the maximum, no iat", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"iat": nil, "exp": t0.Add(25 * time.Hour).Unix()})), opts: &Options{MaxLifetime: 24 * time.Hour}, want: ErrLifetime},
		{name: "lifetime over the maximum, backdated iat", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"iat": t0.Add(-24 * time.Hour).Unix(), "exp": t0.Add(time.Hour).Unix()})), opts: &Options{MaxLifetime: 24 * time.Hour}, want: ErrLifetime},
		{name: "lifetime within the maximum, no iat", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"iat": nil, "exp": t0.Add(24 * time.Hour).Unix()})), opts: &Options{MaxLifetime: 24 * time.Hour}, wantSub: "user-42"},

		// Subject.
		{name: "no sub", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": nil})), want: ErrClaims},
		{name: "empty sub", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": ""})), want: ErrClaims},
		{name: "empty sub does not fall back to id", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": "", "id": "u-7"})), want: ErrClaims},
		{name: "numeric sub", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": 42})), want: ErrClaims},
		{name: "fractional id", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": nil, "id": 4.5})), want: ErrClaims},
		{name: "object id", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": nil, "id": map[string]any{}})), want: ErrClaims},
		{name: "sub of 257 characters", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": strings.Repeat("a", 257)})), want: ErrClaims},
		{name: "sub with a newline", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": "a\nb"})), want: ErrClaims},
		{name: "sub with NUL", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": "a\x00"})), want: ErrClaims},
		{name: "sub with DEL", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": "a\x7f"})), want: ErrClaims},
		{name: "sub with a C1 control", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"sub": "a\u0085"})), want: ErrClaims},

		// Audience.
		{name: "wrong aud", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"aud": []string{"proj-2"}})), want: ErrAudience},
		{name: "other project's token sharing our key", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"aud": "proj-2"})), want: ErrAudience},
		{name: "empty aud list", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"aud": []string{}})), want: ErrAudience},
		{name: "aud prefix of the project", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"aud": "proj-"})), want: ErrAudience},
		{name: "aud not strings", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"aud": []any{1}})), want: ErrClaims},

		// Not JWTs.
		{name: "empty", token: "", want: ErrMalformed},
		{name: "oversized", token: sign(t, rs256, k.rsa, rsaKid, edit(jwt.MapClaims{"pad": strings.Repeat("x", MaxTokenSize)})), want: ErrMalformed},
		{name: "one byte over the limit", token: strings.Repeat("a", MaxTokenSize+1), want: ErrMalformed},
		{name: "garbage", token: "not a token", want: ErrMalformed},
		{name: "bearer prefix", token: "Bearer " + valid, want: ErrMalformed},
		{name: "two parts", token: parts[0] + "." + parts[1], want: ErrMalformed},
		{name: "four parts", token: valid + ".x", want: ErrMalformed},
		{name: "only dots", token: "..", want: ErrMalformed},
		{name: "binary", token: "\x00\xff.\x01.\x02", want: ErrMalformed},
		{name: "header not base64", token: "!!!." + parts[1] + "." + parts[2], want: ErrMalformed},
		{name: "header not JSON", token: raw(`{alg:RS256}`, `{}`, []byte("s")), want: ErrMalformed},
		{name: "header an array", token: raw(`["RS256"]`, `{}`, []byte("s")), want: ErrMalformed},
		{name: "payload an array", token: raw(`{"alg":"RS256"}`, `[1]`, []byte("s")), want: ErrMalformed},
		{name: "payload a string", token: raw(`{"alg":"RS256"}`, `"x"`, []byte("s")), want: ErrMalformed},
		{name: "payload not JSON", token: raw(`{"alg":"RS256"}`, `{"sub":`, []byte("s")), want: ErrMalformed},
		{name: "payload padded", token: parts[0] + "." + parts[1] + "=." + parts[2], want: ErrMalformed},
		{name: "standard base64 alphabet", token: parts[0] + "." + parts[1] + ".+" + parts[2][1:], want: ErrMalformed},
	}

	shared, clk := newTestVerifier(t, Options{CacheSize: -1})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := shared
			if tc.opts != nil || tc.ecOnly {
				opts := Options{CacheSize: -1}
				if tc.opts != nil {
					opts = *tc.opts
				}
				opts.Now = clk.now
				pub := []PublicKey{{Key: k.rsa.Public()}, {Key: k.ec.Public()}}
				if tc.ecOnly {
					pub = pub[1:]
				}
				var err error
				if v, err = NewVerifier(project, pub, opts); err != nil {
					t.Fatal(err)
				}
			}
			clk.set(t0.Add(tc.at))
			got, err := v.Verify(tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.Subject != tc.wantSub {
					t.Fatalf("Subject = %q, want %q", got.Subject, tc.wantSub)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
			checkRefusal(t, err, tc.token)
			t.Log(err)
		})
	}
}

// checkRefusal checks what every refusal must be: an *Error with the code
// of its kind, and a message that repeats no part of the token.
func checkRefusal(t *testing.T, err error, token string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not an *Error", err)
	}
	if Code(err) == "" || Code(err) != e.Code() {
		t.Fatalf("Code(err) = %q, e.Code() = %q", Code(err), e.Code())
	}
	msg := err.Error()
	for _, part := range strings.Split(token, ".") {
		for i := 0; i+12 <= len(part); i++ {
			if strings.Contains(msg, part[i:i+12]) {
				t.Fatalf("message %q repeats part of the token", msg)
			}
		}
	}
}

// flip changes the first character of a base64url segment, keeping it valid.
func flip(seg string) string {
	c := byte('A')
	if seg[0] == 'A' {
		c = 'B'
	}
	return string(c) + seg[1:]
}

func tamperSig(token string) string {
	p := segments(token)
	return p[0] + "." + p[1] + "." + flip(p[2])
}

func TestVerifyClaims(t *testing.T) {
	k := keys(t)
	v, _ := newTestVerifier(t, Options{})
	tok := sign(t, jwt.SigningMethodES256, k.ec, "", validClaims())
	got, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Subject: "user-42", ExpiresAt: t0.Add(time.Hour), IssuedAt: t0, Audience: []string{project}}
	if got.Subject != want.Subject || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.IssuedAt.Equal(want.IssuedAt) ||
		len(got.Audience) != 1 || got.Audience[0] != project {
		t.Fatalf("Verify = %+v, want %+v", got, want)
	}
	// Callers cannot alter the cached entry through the returned slice.
	got.Audience[0] = "mutated"
	again, err := v.Verify(tok)
	if err != nil || again.Audience[0] != project {
		t.Fatalf("second Verify = %+v, %v", again, err)
	}
}

// The display claims: name and email when they are strings, else empty;
// never a reason to refuse a token.
func TestVerifyDisplayClaims(t *testing.T) {
	k := keys(t)
	v, _ := newTestVerifier(t, Options{CacheSize: -1})
	for _, tc := range []struct {
		name      string
		claims    jwt.MapClaims
		wantName  string
		wantEmail string
	}{
		{"both", jwt.MapClaims{"name": "Ada Lovelace", "email": "ada@example.com"}, "Ada Lovelace", "ada@example.com"},
		{"none", jwt.MapClaims{}, "", ""},
		{"name an object", jwt.MapClaims{"name": map[string]any{"first": "Ada"}, "email": "ada@example.com"}, "", "ada@example.com"},
		{"email a number", jwt.MapClaims{"name": "Ada", "email": 7}, "Ada", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "", edit(tc.claims)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.wantName || got.Email != tc.wantEmail {
				t.Fatalf("Name, Email = %q, %q; want %q, %q", got.Name, got.Email, tc.wantName, tc.wantEmail)
			}
		})
	}
}

func TestNewVerifier(t *testing.T) {
	k := keys(t)
	small, err := rsaKeyOfSize(1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		project string
		keys    []PublicKey
		wantErr string
	}{
		{"ok", project, []PublicKey{{Key: k.rsa.Public()}}, ""},
		{"no project", "", []PublicKey{{Key: k.rsa.Public()}}, "empty project id"},
		{"no keys", project, nil, "has no keys"},
		{"nil key", project, []PublicKey{{ID: "a"}}, "unsupported key type"},
		{"private key", project, []PublicKey{{Key: k.rsa}}, "unsupported key type"},
		{"small RSA", project, []PublicKey{{Key: small.Public()}}, "1024 bits"},
		{"P-384", project, []PublicKey{{Key: p384(t).Public()}}, "P-384"},
		{"Ed25519", project, []PublicKey{{Key: ed25519Key(t)}}, "unsupported key type"},
		{"duplicate id", project, []PublicKey{{ID: "a", Key: k.rsa.Public()}, {ID: "a", Key: k.ec.Public()}}, `duplicate key id "a"`},
		{"duplicate key", project, []PublicKey{{Key: k.rsa.Public()}, {Key: k.rsa.Public()}}, "duplicate key id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVerifier(tc.project, tc.keys, Options{})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestExplicitKeyID(t *testing.T) {
	k := keys(t)
	v, err := NewVerifier(project, []PublicKey{{ID: "2026-03", Key: k.rsa.Public()}}, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "2026-03", validClaims())); err != nil {
		t.Fatal(err)
	}
	// The derived id only applies to keys configured without one.
	_, err = v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, kid(t, k.rsa), validClaims()))
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
}

func TestErrorCodes(t *testing.T) {
	kinds := []error{ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrSignature, ErrExpired, ErrNotYetValid, ErrAudience, ErrLifetime, ErrClaims}
	seen := map[string]bool{}
	for _, k := range kinds {
		c := Code(k)
		if c == "" || seen[c] {
			t.Fatalf("code %q of %v is empty or repeated", c, k)
		}
		seen[c] = true
		e := refuse(k, "detail")
		if !errors.Is(e, k) || Code(e) != c || e.Error() != k.Error()+": detail" {
			t.Fatalf("refuse(%v) = %v (code %q)", k, e, Code(e))
		}
	}
	if Code(errors.New("other")) != "" || Code(nil) != "" {
		t.Fatal("Code of a foreign error is not empty")
	}
}
