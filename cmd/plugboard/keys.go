package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// Files a data folder holds in dev mode (and `keys generate` writes).
const (
	signingKeyFile    = "signing-key.pem"     // private: signs user tokens (your app's backend holds it in production)
	signingPubFile    = "signing-key.pub.pem" // public: the gateway verifies user tokens with it
	encryptionKeyFile = "encryption-keys"     // PLUGBOARD_ENCRYPTION_KEYS value
	adminTokenFile    = "admin-token"
	databaseFile      = "plugboard.db"
)

const keysHelp = `
Manage keys.

  plugboard keys generate [--out DIR] [--alg RS256|ES256]
      Write a user-token signing key pair (DIR/signing-key.pem, private, for
      your app's backend; DIR/signing-key.pub.pem, public, for the gateway's
      --project-keys) and print a new encryption key entry for
      PLUGBOARD_ENCRYPTION_KEYS.

  plugboard keys rotate [--store PATH] [--data DIR]
      Re-encrypt every stored credential with the current (first) key of
      PLUGBOARD_ENCRYPTION_KEYS. To rotate: put a new key first (keep the
      old one after it), restart the gateways, run this, then drop the old key.
`

func runKeys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, "Usage: plugboard keys generate|rotate [flags]\n"+strings.TrimRight(keysHelp, "\n"))
		if len(args) == 0 {
			return exitError{exitUsage}
		}
		return nil
	}
	switch args[0] {
	case "generate":
		return runKeysGenerate(args[1:], stdout, stderr)
	case "rotate":
		return runKeysRotate(args[1:], stdout, stderr)
	}
	hint := "want generate or rotate"
	if s := suggest(args[0], []string{"generate", "rotate"}); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	}
	fmt.Fprintf(stderr, "plugboard keys: unknown subcommand %q (%s)\n", args[0], hint)
	return exitError{exitUsage}
}

func runKeysGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys generate", "[--out DIR] [--alg RS256|ES256]", keysHelp, stderr)
	out := fs.String("out", ".", "folder to write signing-key.pem and signing-key.pub.pem into")
	alg := fs.String("alg", "RS256", "signing algorithm of user tokens: RS256 (RSA 2048) or ES256 (P-256)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *alg != "RS256" && *alg != "ES256" {
		fmt.Fprintf(stderr, "plugboard keys generate: --alg %q: want RS256 or ES256\n", *alg)
		return exitError{exitUsage}
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	for _, name := range []string{signingKeyFile, signingPubFile} {
		if _, err := os.Stat(filepath.Join(*out, name)); err == nil {
			return fmt.Errorf("%s already exists; remove it or choose another --out", filepath.Join(*out, name))
		}
	}
	if err := writeSigningKeys(*out, *alg); err != nil {
		return err
	}
	entry, err := seal.GenerateKey()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (private: keep it in your app's backend, sign user tokens with it)\n", filepath.Join(*out, signingKeyFile))
	fmt.Fprintf(stdout, "wrote %s (public: give it to the gateway with --project-keys)\n", filepath.Join(*out, signingPubFile))
	fmt.Fprintf(stdout, "encryption key for PLUGBOARD_ENCRYPTION_KEYS (store it as a secret; it is not written anywhere):\n%s\n", entry)
	return nil
}

func writeSigningKeys(dir, alg string) error {
	var priv crypto.Signer
	var err error
	if alg == "ES256" {
		priv, err = usertoken.GenerateECDSA()
	} else {
		priv, err = usertoken.GenerateRSA(2048)
	}
	if err != nil {
		return err
	}
	privPEM, err := usertoken.EncodePrivateKeyPEM(priv)
	if err != nil {
		return err
	}
	pubPEM, err := usertoken.EncodePublicKeyPEM(priv.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, signingKeyFile), privPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, signingPubFile), pubPEM, 0o644)
}

func runKeysRotate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys rotate", "[--store PATH] [--data DIR]", keysHelp, stderr)
	data := fs.String("data", ".plugboard", "data folder (dev mode keeps its encryption keys there)")
	storePath := fs.String("store", "", "credential store: a SQLite file (default <data>/plugboard.db) or a postgres:// URL")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := applyEnv(fs, os.LookupEnv); err != nil {
		return err
	}
	kr, _, err := loadKeyring(*data, false)
	if err != nil {
		return err
	}
	path := *storePath
	if path == "" {
		path = filepath.Join(*data, databaseFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, err := openStore(ctx, path, kr)
	if err != nil {
		return err
	}
	n, err := st.Rotate(ctx)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-encrypted %d credential(s) with the current key\n", n)
	return nil
}

// loadKeyring reads PLUGBOARD_ENCRYPTION_KEYS, or in dev mode the data
// folder's generated key (created on first use).
func loadKeyring(data string, dev bool) (*seal.Keyring, string, error) {
	v, ok, err := envValue(os.LookupEnv, "PLUGBOARD_ENCRYPTION_KEYS")
	if err != nil {
		return nil, "", err
	}
	if ok && v != "" {
		kr, err := seal.ParseKeyring(v)
		if err != nil {
			return nil, "", fmt.Errorf("PLUGBOARD_ENCRYPTION_KEYS: %w", err)
		}
		return kr, "PLUGBOARD_ENCRYPTION_KEYS", nil
	}
	path := filepath.Join(data, encryptionKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist) && dev:
		entry, gerr := seal.GenerateKey()
		if gerr != nil {
			return nil, "", gerr
		}
		if werr := os.WriteFile(path, []byte(entry+"\n"), 0o600); werr != nil {
			return nil, "", werr
		}
		b = []byte(entry)
	case errors.Is(err, os.ErrNotExist):
		return nil, "", errors.New("no encryption key: set PLUGBOARD_ENCRYPTION_KEYS (create one with `plugboard keys generate`)")
	default:
		return nil, "", err
	}
	kr, err := seal.ParseKeyring(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return kr, path, nil
}

// openStore opens the credential store: PostgreSQL for a postgres:// URL
// (several replicas), SQLite for a file path (optionally sqlite:path).
func openStore(ctx context.Context, path string, kr *seal.Keyring) (store.Store, error) {
	if strings.HasPrefix(path, "postgres://") || strings.HasPrefix(path, "postgresql://") {
		return store.OpenPostgres(ctx, path, kr)
	}
	return store.OpenSQLite(ctx, strings.TrimPrefix(path, "sqlite:"), kr)
}

const tokenHelp = `
Mint a user token (a JWT) for trying the gateway: signed with the dev
signing key in the data folder, or with --key. In production your app's
backend signs user tokens itself with the private key.
`

func runToken(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", "--user USER [--project ID] [--ttl 1h] [--key FILE]", tokenHelp, stderr)
	userID := fs.String("user", "", "the end user's id (the token's sub claim)")
	project := fs.String("project", "dev", "project id (the token's aud claim)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	data := fs.String("data", ".plugboard", "data folder holding the dev signing key")
	keyFile := fs.String("key", "", "PEM private key to sign with (default <data>/signing-key.pem)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := applyEnv(fs, os.LookupEnv); err != nil {
		return err
	}
	if *userID == "" {
		fmt.Fprintln(stderr, "plugboard token: --user is required")
		return exitError{exitUsage}
	}
	path := *keyFile
	if path == "" {
		path = filepath.Join(*data, signingKeyFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("signing key: %v (start `plugboard serve` once in dev mode, or pass --key)", err)
	}
	signer, err := usertoken.ParsePrivateKeyPEM(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	kid, err := usertoken.KeyID(signer.Public())
	if err != nil {
		return err
	}
	tok, err := usertoken.Mint(signer, kid, *project, *userID, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
