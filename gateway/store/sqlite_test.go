package store_test

import (
	"bytes"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	dir := t.TempDir()
	storetest.Run(t, func(t *testing.T, kr *seal.Keyring) store.Store {
		// One file per test, so that a second open in the same test reopens it.
		return openSQLite(t, filepath.Join(dir, url.PathEscape(t.Name())+".db"), kr)
	})
}

func openSQLite(t testing.TB, path string, kr *seal.Keyring) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), path, kr)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rawDB opens the file behind the store's back, as an attacker or an
// operator with the sqlite3 shell would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func testConnection(project, user, integration, token string) *connection.Connection {
	return &connection.Connection{
		ProjectID: project, UserID: user, IntegrationID: integration,
		Credential: connection.Credential{
			AccessToken:  token,
			RefreshToken: "refresh-" + token,
			ClientSecret: "client-secret-" + token,
			Inputs:       map[string]string{"apiKey": "input-" + token},
		},
		ExpiresAt: time.Now().Add(time.Hour),
	}
}

// TestSQLiteNoPlaintextOnDisk greps the database, WAL and shared-memory
// files for every secret, while the store is open (the WAL holds the
// latest pages) and after it is closed (checkpointed into the main file).
func TestSQLiteNoPlaintextOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugboard.db")
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	s := openSQLite(t, path, kr)
	const token = "ghs_PLAINTEXTCANARY0123456789"
	c := testConnection("p1", "u1", "github", token)
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	c.Credential.AccessToken = token + "-refreshed"
	if err := s.Update(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	secrets := []string{token, "refresh-" + token, "client-secret-" + token, "input-" + token}

	grep := func(when string) {
		t.Helper()
		sealed := false // control: the credential is on disk, just not readable
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			b, err := os.ReadFile(path + suffix)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			sealed = sealed || bytes.Contains(b, []byte("v1.k1."))
			for _, secret := range secrets {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("%s: %s%s contains %q in plaintext", when, filepath.Base(path), suffix, secret)
				}
			}
		}
		if !sealed {
			t.Fatalf("%s: no sealed credential found in the database files: grepping the wrong files?", when)
		}
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no WAL file while the store is open: %v", err)
	}
	grep("while open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	grep("after close")

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		t.Errorf("database file mode is %v, want no access for group and others", mode)
	}
}

// TestSQLiteCiphertextBoundToRow: a sealed credential copied to another
// row, or a row reassigned to another user, does not open.
func TestSQLiteCiphertextBoundToRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugboard.db")
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	s := openSQLite(t, path, kr)
	ctx := t.Context()
	victim := testConnection("p1", "victim", "github", "victim-token")
	attacker := testConnection("p1", "attacker", "github", "attacker-token")
	for _, c := range []*connection.Connection{victim, attacker} {
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, path)
	if _, err := db.ExecContext(ctx, `UPDATE connections SET credential = (SELECT credential FROM connections WHERE id = ?) WHERE id = ?`,
		victim.ID, attacker.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, "p1", "attacker", attacker.ID)
	if !errors.Is(err, seal.ErrCiphertextInvalid) {
		t.Fatalf("Get of a row holding another row's ciphertext: %v, want ErrCiphertextInvalid", err)
	}
	if !strings.Contains(err.Error(), attacker.ID) {
		t.Errorf("error %q does not name the connection", err)
	}
	if strings.Contains(err.Error(), "victim-token") {
		t.Errorf("error %q contains the secret", err)
	}

	if _, err := db.ExecContext(ctx, `UPDATE connections SET user_id = 'attacker', is_default = 0 WHERE id = ?`, victim.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "p1", "attacker", victim.ID); !errors.Is(err, seal.ErrCiphertextInvalid) {
		t.Errorf("Get of a row moved to another user: %v, want ErrCiphertextInvalid", err)
	}
}

func TestSQLiteReopenMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugboard.db")
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	s := openSQLite(t, path, kr)
	c := testConnection("p1", "u1", "github", "tok")
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	type applied struct {
		version   int
		name      string
		appliedAt int64
	}
	read := func() []applied {
		rows, err := rawDB(t, path).QueryContext(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var as []applied
		for rows.Next() {
			var a applied
			if err := rows.Scan(&a.version, &a.name, &a.appliedAt); err != nil {
				t.Fatal(err)
			}
			as = append(as, a)
		}
		return as
	}
	first := read()
	if len(first) == 0 || first[0].version != 1 || first[0].name != "0001_init.sql" {
		t.Fatalf("schema_migrations after the first open = %+v, want 0001_init.sql first", first)
	}
	for range 3 {
		time.Sleep(2 * time.Millisecond) // a re-applied migration would get a new applied_at
		s := openSQLite(t, path, kr)
		if _, err := s.Get(t.Context(), "p1", "u1", c.ID); err != nil {
			t.Fatalf("Get after reopening: %v", err)
		}
		_ = s.Close()
	}
	if again := read(); len(again) != len(first) || again[0] != first[0] {
		t.Errorf("schema_migrations changed on reopen:\nbefore %+v\nafter  %+v", first, again)
	}
}

func TestSQLiteRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugboard.db")
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	_ = openSQLite(t, path, kr).Close()
	if _, err := rawDB(t, path).ExecContext(t.Context(),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_from_the_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenSQLite(t.Context(), path, kr)
	if err == nil {
		_ = s.Close()
		t.Fatal("OpenSQLite accepted a database from a newer plugboard")
	}
	var tooNew *store.SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Version != 9999 || tooNew.Known < 1 {
		t.Fatalf("error %v (%T), want a SchemaTooNewError for version 9999", err, err)
	}
	for _, want := range []string{path, "9999", "newer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestSQLiteUnknownKeyID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugboard.db")
	gone, other := storetest.Key(t, "k-retired"), storetest.Key(t, "k-current")
	s := openSQLite(t, path, storetest.Keyring(t, gone))
	c := testConnection("p1", "u1", "github", "tok-unknown-kid")
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	s = openSQLite(t, path, storetest.Keyring(t, other))
	for name, call := range map[string]func() error{
		"Get":     func() error { _, err := s.Get(t.Context(), "p1", "u1", c.ID); return err },
		"Default": func() error { _, err := s.Default(t.Context(), "p1", "u1", "github"); return err },
		"List":    func() error { _, err := s.List(t.Context(), "p1", "u1"); return err },
		"Rotate":  func() error { _, err := s.Rotate(t.Context()); return err },
	} {
		err := call()
		if !errors.Is(err, store.ErrKeyUnknown) {
			t.Errorf("%s: %v, want ErrKeyUnknown", name, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `"k-retired"`) || !strings.Contains(msg, c.ID) {
			t.Errorf("%s: error %q does not name the key id and the connection", name, msg)
		}
		for _, secret := range []string{keyMaterial(gone), keyMaterial(other), "tok-unknown-kid"} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: error %q contains a secret", name, msg)
			}
		}
	}
}

func keyMaterial(entry string) string {
	_, key, _ := strings.Cut(entry, ":")
	return key
}

func TestOpenSQLiteRejects(t *testing.T) {
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	missingDir := filepath.Join(t.TempDir(), "no", "such", "dir", "plugboard.db")
	for _, tc := range []struct {
		path string
		kr   *seal.Keyring
		want string
	}{
		{filepath.Join(t.TempDir(), "x.db"), nil, "no keyring"},
		{"", kr, "not a file path"},
		{":memory:", kr, "not a file path"},
		{"file:x.db?mode=memory", kr, "not a file path"},
		{missingDir, kr, missingDir},
	} {
		s, err := store.OpenSQLite(t.Context(), tc.path, tc.kr)
		if err == nil {
			_ = s.Close()
			t.Errorf("OpenSQLite(%q) succeeded", tc.path)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenSQLite(%q): %q does not contain %q", tc.path, err, tc.want)
		}
	}
}
