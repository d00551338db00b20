package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// KeySize is the length of every encryption key: AES-256.
const KeySize = 32

// maxKeyIDLen bounds a key id; ids are stored in every sealed value.
const maxKeyIDLen = 32

// sealedVersion is the first field of every sealed value. A new format gets
// a new version, and Open keeps reading the old ones.
const sealedVersion = "v1"

// ErrCiphertextInvalid: a sealed value is malformed, was tampered with, or
// was sealed for another record (its associated data differs).
var ErrCiphertextInvalid = errors.New("sealed value is malformed, tampered with, or belongs to another record")

// ErrKeyUnknown: a ciphertext names an encryption key that is not in the
// keyring (a key was removed from PLUGBOARD_ENCRYPTION_KEYS too early).
var ErrKeyUnknown = errors.New("encryption key not in keyring")

// Keyring holds the AES-256-GCM keys that encrypt credentials at rest. The
// first key is current: Seal uses it. The others only decrypt, so that a
// key can be replaced without losing what it encrypted (see the store's Rotate).
//
// A Keyring is immutable and safe for concurrent use; make one with
// ParseKeyring. Its String, Format and LogValue name the key ids only,
// never key material.
//
// Nonces are random (96 bits), so one key must not seal more than 2^32
// values (NIST SP 800-38D); every credential write seals once. Rotate keys
// long before that, e.g. yearly.
type Keyring struct {
	current *ringKey
	byID    map[string]*ringKey
	ids     []string // in configuration order; ids[0] is current
}

type ringKey struct {
	id   string
	aead cipher.AEAD // GCM with a random 96-bit nonce prepended by Seal
}

// ParseKeyring parses PLUGBOARD_ENCRYPTION_KEYS: comma-separated
// kid:base64key entries, the first being the current key. A kid is 1-32 of
// A-Z a-z 0-9 _ -; a key is 32 bytes in standard or URL-safe base64, padded
// or not. Errors name the entry by position and never contain key material.
func ParseKeyring(s string) (*Keyring, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("encryption keys: none given; want kid:base64key[,kid:base64key...] " +
			"(32 random bytes each, e.g. from `openssl rand -base64 32`)")
	}
	entries := strings.Split(s, ",")
	kr := &Keyring{byID: make(map[string]*ringKey, len(entries))}
	for i, entry := range entries {
		pos := i + 1
		kid, b64, ok := strings.Cut(strings.TrimSpace(entry), ":")
		if !ok {
			if strings.TrimSpace(entry) == "" {
				return nil, fmt.Errorf("encryption keys: entry %d of %d is empty (stray comma?)", pos, len(entries))
			}
			return nil, fmt.Errorf("encryption keys: entry %d of %d has no ':'; want kid:base64key", pos, len(entries))
		}
		kid = strings.TrimSpace(kid)
		if !validKeyID(kid) {
			// The kid is not echoed: a malformed entry may be a pasted key.
			return nil, fmt.Errorf("encryption keys: entry %d of %d: key id must be 1-%d characters of A-Z a-z 0-9 _ -",
				pos, len(entries), maxKeyIDLen)
		}
		if prev, dup := kr.byID[kid]; dup {
			return nil, fmt.Errorf("encryption keys: entry %d of %d: key id %q is used twice (see entry %d)",
				pos, len(entries), kid, kr.position(prev.id))
		}
		raw, err := decodeKey(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("encryption keys: entry %d of %d (key id %q): %w", pos, len(entries), kid, err)
		}
		key, err := newRingKey(kid, raw)
		clear(raw)
		if err != nil {
			return nil, fmt.Errorf("encryption keys: entry %d of %d (key id %q): %w", pos, len(entries), kid, err)
		}
		kr.byID[kid] = key
		kr.ids = append(kr.ids, kid)
	}
	kr.current = kr.byID[kr.ids[0]]
	return kr, nil
}

// GenerateKey returns a new keyring entry "kid:base64key" with a fresh random
// key. The kid is "k" + today's UTC date + 4 random hex digits, so keys made
// on the same day still differ.
func GenerateKey() (string, error) {
	var suffix [2]byte
	rand.Read(suffix[:]) // never fails (crypto/rand crashes the program instead)
	key := make([]byte, KeySize)
	rand.Read(key)
	defer clear(key)
	kid := "k" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(suffix[:])
	return kid + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// CurrentKeyID is the id of the key Seal uses.
func (k *Keyring) CurrentKeyID() string { return k.current.id }

// KeyIDs lists the key ids, current first.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.ids...) }

// Seal encrypts plaintext with the current key, binding it to aad (which is
// authenticated, not stored: Open needs the same aad). The result is
// "v1.<kid>.<base64url(nonce||ciphertext||tag)>".
func (k *Keyring) Seal(plaintext, aad []byte) string {
	prefix := sealedPrefix(k.current.id)
	ct := k.current.aead.Seal(nil, nil, plaintext, sealedAAD(prefix, aad))
	return prefix + base64.RawURLEncoding.EncodeToString(ct)
}

// Open decrypts a value made by Seal with the same aad. A key id not in the
// keyring is ErrKeyUnknown; anything else that does not decrypt is
// ErrCiphertextInvalid.
func (k *Keyring) Open(sealed string, aad []byte) ([]byte, error) {
	kid, body, err := splitSealed(sealed)
	if err != nil {
		return nil, err
	}
	key, ok := k.byID[kid]
	if !ok {
		return nil, fmt.Errorf("%w: the value was sealed with key id %q, which is not in PLUGBOARD_ENCRYPTION_KEYS (keyring has %s)",
			ErrKeyUnknown, kid, strings.Join(k.ids, ", "))
	}
	ct, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64url", ErrCiphertextInvalid)
	}
	pt, err := key.aead.Open(nil, nil, ct, sealedAAD(sealedPrefix(kid), aad))
	if err != nil {
		return nil, fmt.Errorf("%w (key id %q)", ErrCiphertextInvalid, kid)
	}
	return pt, nil
}

// SealedKeyID returns the key id a sealed value names, without decrypting it.
func SealedKeyID(sealed string) (string, error) {
	kid, _, err := splitSealed(sealed)
	return kid, err
}

// String names the key ids; key material is never shown.
func (k Keyring) String() string {
	if k.current == nil {
		return "Keyring{}"
	}
	return fmt.Sprintf("Keyring{current: %s, keys: [%s]}", k.current.id, strings.Join(k.ids, " "))
}

// Format makes every fmt verb (%v, %+v, %#v, %x ...) print String.
func (k Keyring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue names the key ids; key material is never logged.
func (k Keyring) LogValue() slog.Value {
	if k.current == nil {
		return slog.GroupValue()
	}
	return slog.GroupValue(
		slog.String("current", k.current.id),
		slog.Any("keys", k.KeyIDs()),
	)
}

func (k *Keyring) position(kid string) int {
	for i, id := range k.ids {
		if id == kid {
			return i + 1
		}
	}
	return 0
}

func newRingKey(kid string, raw []byte) (*ringKey, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("creating AES cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("creating GCM: %w", err)
	}
	return &ringKey{id: kid, aead: aead}, nil
}

// decodeKey accepts standard or URL-safe base64, with or without padding.
// Its errors never include the input.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("key is empty after ':'")
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	raw, err := enc.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, errors.New("key is not valid base64 (standard or URL-safe alphabet)")
	}
	if len(raw) != KeySize {
		n := len(raw)
		clear(raw)
		return nil, fmt.Errorf("key is %d bytes, want %d (e.g. `openssl rand -base64 32`)", n, KeySize)
	}
	return raw, nil
}

func validKeyID(kid string) bool {
	if len(kid) == 0 || len(kid) > maxKeyIDLen {
		return false
	}
	for _, c := range []byte(kid) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// sealedPrefix is what every value sealed with kid starts with. Rotate finds
// the rows still sealed with an old key by comparing it.
func sealedPrefix(kid string) string { return sealedVersion + "." + kid + "." }

// CurrentPrefix is what every value sealed now starts with: a store finds
// the rows a rotation must rewrite as those that do not.
func (k *Keyring) CurrentPrefix() string { return sealedPrefix(k.current.id) }

// sealedAAD also authenticates the prefix, so that relabelling a value with
// another key id (say, a duplicate of the same key) does not open.
func sealedAAD(prefix string, aad []byte) []byte {
	b := make([]byte, 0, len(prefix)+len(aad))
	return append(append(b, prefix...), aad...)
}

// splitSealed parses "v1.<kid>.<body>". Its errors may name a valid-looking
// kid but never echo the body.
func splitSealed(sealed string) (kid, body string, err error) {
	version, rest, ok := strings.Cut(sealed, ".")
	if !ok || version != sealedVersion {
		return "", "", fmt.Errorf("%w: not a %s sealed value", ErrCiphertextInvalid, sealedVersion)
	}
	kid, body, ok = strings.Cut(rest, ".")
	if !ok || !validKeyID(kid) {
		return "", "", fmt.Errorf("%w: bad key id field", ErrCiphertextInvalid)
	}
	return kid, body, nil
}
