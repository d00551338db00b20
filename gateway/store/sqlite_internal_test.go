package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

func TestSQLitePragmas(t *testing.T) {
	kr := mustKeyring(t, "k:"+keyAStd)
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "p.db"), kr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
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
	defer func() { _ = s.Close() }()
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

// TestRotateTickets: Rotate also re-seals unexpired tickets, so that the
// old key can go while connect flows are in flight.
func TestRotateTickets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	ctx := t.Context()
	s, err := OpenSQLite(ctx, path, mustKeyring(t, "old:"+keyAStd))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutTicket(ctx, "state", "live", []byte("in flight"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTicket(ctx, "state", "expired", []byte("gone"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	s, err = OpenSQLite(ctx, path, mustKeyring(t, "new:"+keyBRaw+",old:"+keyAStd))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Rotate(ctx); err != nil || n != 1 {
		t.Fatalf("Rotate = %d, %v; want the one unexpired ticket", n, err)
	}
	_ = s.Close()

	s, err = OpenSQLite(ctx, path, mustKeyring(t, "new:"+keyBRaw))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if v, err := s.TakeTicket(ctx, "state", "live"); err != nil || string(v) != "in flight" {
		t.Errorf("TakeTicket after rotation and removal of the old key = %q, %v", v, err)
	}
}

// TestFillRenewable: rows written before migration 0003 (renewable NULL)
// are filled in when the store opens, so their status is right.
func TestFillRenewable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	ctx := t.Context()
	kr := mustKeyring(t, "k:"+keyAStd)
	s, err := OpenSQLite(ctx, path, kr)
	if err != nil {
		t.Fatal(err)
	}
	expired := time.Now().Add(-time.Hour)
	withRefresh := &connection.Connection{ProjectID: "p", UserID: "u", IntegrationID: "i", ExpiresAt: expired,
		Credential: connection.Credential{AccessToken: "a", RefreshToken: "r"}}
	bare := &connection.Connection{ProjectID: "p", UserID: "u", IntegrationID: "i", ExpiresAt: expired,
		Credential: connection.Credential{AccessToken: "a"}}
	for _, c := range []*connection.Connection{withRefresh, bare} {
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE connections SET renewable = NULL`); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	s, err = OpenSQLite(ctx, path, kr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	var unknown int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM connections WHERE renewable IS NULL`).Scan(&unknown); err != nil || unknown != 0 {
		t.Fatalf("%d rows left with renewable NULL (%v)", unknown, err)
	}
	page, err := s.ListConnections(ctx, ConnectionFilter{Health: connection.HealthExpiredRefreshable})
	if err != nil || len(page.Connections) != 1 || page.Connections[0].ID != withRefresh.ID {
		t.Errorf("expired_refreshable after the fill-in = %+v, %v; want the one with a refresh token", page.Connections, err)
	}
}
