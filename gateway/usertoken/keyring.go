package usertoken

import (
	"crypto"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// keyring is a verifier's keys, indexed for the two ways a token selects
// one: by kid, or (without kid) by algorithm.
type keyring struct {
	byID  map[string]pinnedKey
	byAlg map[string]jwt.VerificationKeySet // "RS256"/"ES256" → keys of that type
}

// pinnedKey is a key and the one algorithm it verifies.
type pinnedKey struct {
	key crypto.PublicKey
	alg string
}

// newKeyring checks every key and indexes them; an empty ID becomes KeyID.
func newKeyring(keys []PublicKey) (keyring, error) {
	r := keyring{
		byID:  make(map[string]pinnedKey, len(keys)),
		byAlg: make(map[string]jwt.VerificationKeySet, 2),
	}
	for i, k := range keys {
		alg, err := algorithmFor(k.Key)
		if err != nil {
			return keyring{}, fmt.Errorf("key %d: %w", i, err)
		}
		if k.ID == "" {
			if k.ID, err = KeyID(k.Key); err != nil {
				return keyring{}, fmt.Errorf("key %d: %w", i, err)
			}
		}
		if _, dup := r.byID[k.ID]; dup {
			return keyring{}, fmt.Errorf("key %d: duplicate key id %q", i, k.ID)
		}
		r.byID[k.ID] = pinnedKey{key: k.Key, alg: alg}
		set := r.byAlg[alg]
		set.Keys = append(set.Keys, k.Key)
		r.byAlg[alg] = set
	}
	return r, nil
}

// keyFor is the jwt.Keyfunc: it pins the algorithm to the key type and
// returns the key(s) the signature must verify with. It runs after the
// library has found the alg among its known methods and before any
// signature work.
func (r *keyring) keyFor(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, refuse(ErrMalformed, "the header lists critical extensions (crit), none of which are supported")
	}
	alg := t.Method.Alg()
	if raw, ok := t.Header["kid"]; ok {
		kid, ok := raw.(string)
		if !ok {
			return nil, refuse(ErrMalformed, "kid header must be a string")
		}
		k, ok := r.byID[kid]
		if !ok {
			return nil, refuse(ErrUnknownKey, "kid matches none of this project's keys")
		}
		if alg != k.alg {
			return nil, refuse(ErrAlgorithm, "alg is %s; key %q verifies %s only", alg, kid, k.alg)
		}
		return k.key, nil
	}
	set, ok := r.byAlg[alg]
	if !ok {
		return nil, refuse(ErrAlgorithm, "alg is %s; this project's keys verify %s", alg, r.algorithms())
	}
	if len(set.Keys) == 1 {
		return set.Keys[0], nil
	}
	return set, nil
}

// algorithms lists the algorithms the keyring's keys verify, for messages.
func (r *keyring) algorithms() string {
	_, rs := r.byAlg["RS256"]
	_, es := r.byAlg["ES256"]
	switch {
	case rs && es:
		return "RS256 or ES256"
	case es:
		return "ES256 only"
	default:
		return "RS256 only"
	}
}
