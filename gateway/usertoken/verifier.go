package usertoken

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize is the longest token Verify reads, in bytes; longer ones are
// refused before any parsing.
const MaxTokenSize = 8 << 10

// Defaults of Options.
const (
	DefaultLeeway    = 30 * time.Second
	DefaultCacheSize = 100_000
)

// Options tune a Verifier. The zero value is the recommended setting.
type Options struct {
	// Leeway is the clock skew tolerated between the signer and the gateway
	// when checking exp, nbf and iat. Zero means DefaultLeeway (30s); a
	// negative value means none.
	Leeway time.Duration
	// MaxLifetime, when positive, refuses tokens that live longer: exp-iat,
	// or exp-now (plus Leeway) when the token has no iat. Zero means no
	// limit; e.g. 24*time.Hour refuses day-plus tokens.
	MaxLifetime time.Duration
	// CacheSize is how many verified tokens are remembered so that a repeat
	// skips signature verification (roughly 300 bytes each). Zero means
	// DefaultCacheSize (100 000); a negative value disables the cache.
	CacheSize int
	// Now is the clock. Nil means time.Now; tests set it.
	Now func() time.Time
}

// Verifier verifies one project's user tokens. It is safe for concurrent
// use. Its keys are fixed: to rotate them build a new Verifier and swap it
// in (its cache starts empty, so no token outlives the key that signed it).
type Verifier struct {
	projectID   string
	keys        keyring
	parser      *jwt.Parser
	leeway      time.Duration
	maxLifetime time.Duration
	now         func() time.Time
	cache       *cache // nil when disabled
}

// NewVerifier returns a Verifier of the user tokens of project projectID,
// signed with any of keys (at least one).
func NewVerifier(projectID string, keys []PublicKey, opts Options) (*Verifier, error) {
	if projectID == "" {
		return nil, errors.New("usertoken: empty project id")
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("usertoken: project %s has no keys", projectID)
	}
	ring, err := newKeyring(keys)
	if err != nil {
		return nil, fmt.Errorf("usertoken: project %s: %w", projectID, err)
	}
	v := &Verifier{
		projectID: projectID,
		keys:      ring,
		// Claims are checked by v.check, not by the library: one set of
		// rules for fresh and cached tokens, and messages of our own.
		parser:      jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding()),
		leeway:      opts.Leeway,
		maxLifetime: opts.MaxLifetime,
		now:         opts.Now,
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case opts.CacheSize == 0:
		v.cache = newCache(DefaultCacheSize)
	case opts.CacheSize > 0:
		v.cache = newCache(opts.CacheSize)
	}
	return v, nil
}

// ProjectID returns the project whose tokens v verifies.
func (v *Verifier) ProjectID() string { return v.projectID }

// Verify checks a user token (the bare JWT, without "Bearer ") and returns
// its claims. A token seen before is answered from the cache after
// re-checking its expiry. Errors are *Error values wrapping one of the Err*
// kinds.
func (v *Verifier) Verify(token string) (Claims, error) {
	if token == "" {
		return Claims{}, refuse(ErrMalformed, "empty token")
	}
	if len(token) > MaxTokenSize {
		return Claims{}, refuse(ErrMalformed, "longer than %d bytes", MaxTokenSize)
	}
	now := v.now()
	if v.cache == nil {
		return v.verify(token, now)
	}
	key := cacheKey(token)
	if e, ok := v.cache.get(key); ok {
		if now.Before(e.deadline) {
			return e.claims.clone(), nil
		}
		v.cache.remove(key, e)
		return Claims{}, expired(e.claims.ExpiresAt, now)
	}
	claims, err := v.verify(token, now)
	if err != nil {
		// Refusals are not cached; the cache type says why.
		return Claims{}, err
	}
	v.cache.put(key, &cacheEntry{claims: claims, deadline: claims.ExpiresAt.Add(v.leeway)}, now)
	return claims.clone(), nil
}

// verify does the full work: parse, pin the algorithm, select the key,
// check the signature, then the claims.
func (v *Verifier) verify(token string, now time.Time) (Claims, error) {
	if n := strings.Count(token, "."); n != 2 {
		return Claims{}, refuse(ErrMalformed, "a JWT has 3 dot-separated segments, this has %d", n+1)
	}
	var p payload
	if _, err := v.parser.ParseWithClaims(token, &p, v.keys.keyFor); err != nil {
		return Claims{}, parseError(err)
	}
	return v.check(&p, now)
}

// cacheKey is the SHA-256 of the token. The digest is computed on the
// string's bytes in place: converting a token of up to 8 KiB to []byte
// would copy it on every request, and Sum256 only reads its input.
func cacheKey(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}
