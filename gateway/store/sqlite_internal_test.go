package store

import (
	"path/filepath"
	"testing"
)

func TestSQLitePragmas(t *testing.T) {
	kr := mustKeyring(t, "k:"+keyAStd)
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "p.db"), kr)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		pool       string
		pragma     string
		want       string
		readerOnly bool
	}{
		{"writer", "journal_mode", "wal", false},
		{"writer", "busy_timeout", "5000", false},
		{"writer", "foreign_keys", "1", false},
		{"writer", "synchronous", "1", false}, // NORMAL
		{"writer", "query_only", "0", false},
		{"reader", "journal_mode", "wal", true},
		{"reader", "busy_timeout", "5000", true},
		{"reader", "foreign_keys", "1", true},
		{"reader", "query_only", "1", true},
	} {
		db := s.w
		if tc.readerOnly {
			db = s.r
		}
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("%s: PRAGMA %s: %v", tc.pool, tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.pool, tc.pragma, got, tc.want)
		}
	}
	if _, err := s.r.ExecContext(t.Context(), `DELETE FROM connections`); err == nil {
		t.Error("a reader connection can write")
	}
}

func TestMigrateSQLiteIdempotent(t *testing.T) {
	kr := mustKeyring(t, "k:"+keyAStd)
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "p.db"), kr)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		applied, err := migrateSQLite(t.Context(), s.w, s.path)
		if err != nil || len(applied) != 0 {
			t.Errorf("migrating a migrated database applied %v, %v; want nothing", applied, err)
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFS, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.version != i+1 || m.sql == "" {
			t.Errorf("migration %d = %s (version %d)", i, m.name, m.version)
		}
	}
}
