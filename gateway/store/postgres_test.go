package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/store/storetest"
)

func TestPostgresConformance(t *testing.T) {
	store.PostgresTestServer(t)
	var mu sync.Mutex
	dsns := map[string]string{} // by test: a second open in the same test reopens its schema
	storetest.Run(t, func(t *testing.T, kr *seal.Keyring) store.Store {
		mu.Lock()
		dsn, ok := dsns[t.Name()]
		if !ok {
			dsn = store.PostgresTestDSN(t)
			dsns[t.Name()] = dsn
		}
		mu.Unlock()
		return openPostgres(t, dsn, kr)
	})
}

func openPostgres(t testing.TB, dsn string, kr *seal.Keyring) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(t.Context(), dsn, kr)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// rawPostgres connects behind the store's back, as an operator with psql
// (or an attacker with a stolen backup) would.
func rawPostgres(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn
}

// TestPostgresNoPlaintextInTables reads every column of every row, as text,
// and looks for every secret the store was given.
func TestPostgresNoPlaintextInTables(t *testing.T) {
	dsn := store.PostgresTestDSN(t)
	s := openPostgres(t, dsn, storetest.Keyring(t, storetest.Key(t, "k1")))
	ctx := t.Context()
	const token = "ghs_PLAINTEXTCANARY0123456789"
	c := testConnection("p1", "u1", "github", token)
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.Credential.AccessToken = token + "-refreshed"
	if err := s.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	const ticketValue = "oauth-state-PLAINTEXTCANARY"
	if err := s.PutTicket(ctx, "state", "k", []byte(ticketValue), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	secrets := []string{token, "refresh-" + token, "client-secret-" + token, "input-" + token, ticketValue}

	raw := rawPostgres(t, dsn)
	sealed := 0 // control: the secrets are there, just not readable
	for _, table := range []string{"connections", "tickets"} {
		rows, err := raw.Query(ctx, `SELECT t::text FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range texts {
			if strings.Contains(text, "v1.k1.") {
				sealed++
			}
			for _, secret := range secrets {
				if strings.Contains(text, secret) {
					t.Errorf("table %s holds %q in plaintext", table, secret)
				}
			}
		}
	}
	if sealed != 2 {
		t.Fatalf("found %d sealed values in the tables, want 2 (a connection and a ticket): reading the wrong tables?", sealed)
	}
}

// TestPostgresCiphertextBoundToRow: a sealed credential copied to another
// row, or a row reassigned to another user, does not open.
func TestPostgresCiphertextBoundToRow(t *testing.T) {
	dsn := store.PostgresTestDSN(t)
	s := openPostgres(t, dsn, storetest.Keyring(t, storetest.Key(t, "k1")))
	ctx := t.Context()
	victim := testConnection("p1", "victim", "github", "victim-token")
	attacker := testConnection("p1", "attacker", "github", "attacker-token")
	for _, c := range []*connection.Connection{victim, attacker} {
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	raw := rawPostgres(t, dsn)
	if _, err := raw.Exec(ctx, `UPDATE connections SET credential = (SELECT credential FROM connections WHERE id = $1) WHERE id = $2`,
		victim.ID, attacker.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, "p1", "attacker", attacker.ID)
	if !errors.Is(err, seal.ErrCiphertextInvalid) {
		t.Fatalf("Get of a row holding another row's ciphertext: %v, want ErrCiphertextInvalid", err)
	}
	if !strings.Contains(err.Error(), attacker.ID) || strings.Contains(err.Error(), "victim-token") {
		t.Errorf("error %q should name the connection and not hold the secret", err)
	}
	if _, err := raw.Exec(ctx, `UPDATE connections SET user_id = 'attacker', is_default = false WHERE id = $1`, victim.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "p1", "attacker", victim.ID); !errors.Is(err, seal.ErrCiphertextInvalid) {
		t.Errorf("Get of a row moved to another user: %v, want ErrCiphertextInvalid", err)
	}
}

func TestPostgresReopenMigratesOnce(t *testing.T) {
	dsn := store.PostgresTestDSN(t)
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	s := openPostgres(t, dsn, kr)
	c := testConnection("p1", "u1", "github", "tok")
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	first := schemaMigrations(t, dsn)
	if len(first) == 0 || first[0].Version != 1 || first[0].Name != "0001_init.sql" {
		t.Fatalf("schema_migrations after the first open = %+v, want 0001_init.sql first", first)
	}
	for range 3 {
		s := openPostgres(t, dsn, kr)
		if _, err := s.Get(t.Context(), "p1", "u1", c.ID); err != nil {
			t.Fatalf("Get after reopening: %v", err)
		}
		_ = s.Close()
	}
	again := schemaMigrations(t, dsn)
	if len(again) != len(first) || again[0] != first[0] {
		t.Errorf("schema_migrations changed on reopen:\nbefore %+v\nafter  %+v", first, again)
	}
}

type appliedMigration struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

func schemaMigrations(t *testing.T, dsn string) []appliedMigration {
	t.Helper()
	rows, err := rawPostgres(t, dsn).Query(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	as, err := pgx.CollectRows(rows, pgx.RowToStructByPos[appliedMigration])
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// TestPostgresConcurrentOpen: replicas starting at once all open the store,
// and each migration is applied once (a second application would fail:
// its CREATE TABLEs have no IF NOT EXISTS).
func TestPostgresConcurrentOpen(t *testing.T) {
	dsn := store.PostgresTestDSN(t)
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	const replicas = 5
	stores := make([]*store.Postgres, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = store.OpenPostgres(t.Context(), dsn, kr)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: OpenPostgres: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	ms := schemaMigrations(t, dsn)
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("schema_migrations = %+v, want versions 1..n, each once", ms)
			break
		}
	}
	// Every replica works on the same tables.
	c := testConnection("p1", "u1", "github", "tok")
	if err := stores[0].Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if _, err := s.Get(t.Context(), "p1", "u1", c.ID); err != nil {
			t.Errorf("replica %d: Get: %v", i, err)
		}
	}
}

func TestPostgresRefusesNewerSchema(t *testing.T) {
	dsn := store.PostgresTestDSN(t)
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	_ = openPostgres(t, dsn, kr).Close()
	if _, err := rawPostgres(t, dsn).Exec(t.Context(),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_from_the_future.sql', now())`); err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenPostgres(t.Context(), dsn, kr)
	if err == nil {
		_ = s.Close()
		t.Fatal("OpenPostgres accepted a database from a newer plugboard")
	}
	var tooNew *store.SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Version != 9999 || tooNew.Known < 1 {
		t.Fatalf("error %v (%T), want a SchemaTooNewError for version 9999", err, err)
	}
	for _, want := range []string{"plugboard_test", "search_path", "9999", "newer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestOpenPostgresRejects needs no server: every case fails before or at
// connecting. No error may quote the password.
func TestOpenPostgresRejects(t *testing.T) {
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	const password = "hunter2-PASSWORDCANARY"
	for _, tc := range []struct {
		name, dsn string
		kr        *seal.Keyring
		want      string
	}{
		{"no keyring", "postgres://u@127.0.0.1/db", nil, "no keyring"},
		{"empty", " ", kr, "connection string is empty"},
		{"bad URL", "postgres://u:" + password + "@127.0.0.1:port/db", kr, "does not parse"},
		{"bad key=value", "host=127.0.0.1 password='" + password, kr, "does not parse"},
		{"bad port", "postgres://u:" + password + "@127.0.0.1:99999/db", kr, "does not parse"},
		{"nothing listening", "postgres://u:" + password + "@127.0.0.1:1/plugboard?connect_timeout=5", kr, `"plugboard" on 127.0.0.1:1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.OpenPostgres(t.Context(), tc.dsn, tc.kr)
			if err == nil {
				_ = s.Close()
				t.Fatal("OpenPostgres succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// TestPostgresRotateTickets: Rotate also re-seals unexpired tickets (more
// than one batch of them), so that the old key can go while connect flows
// are in flight; expired ones are left alone.
func TestPostgresRotateTickets(t *testing.T) {
	dsn := store.PostgresTestDSN(t)
	ctx := t.Context()
	oldKey, newKey := storetest.Key(t, "old"), storetest.Key(t, "new")
	s := openPostgres(t, dsn, storetest.Keyring(t, oldKey))
	const live = 250
	for i := range live {
		if err := s.PutTicket(ctx, "state", fmt.Sprintf("live-%03d", i), []byte(fmt.Sprintf("in flight %d", i)), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// Expired tickets are swept by the next PutTicket: add this one last.
	if err := s.PutTicket(ctx, "state", "expired", []byte("gone"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	s = openPostgres(t, dsn, storetest.Keyring(t, newKey, oldKey))
	if n, err := s.Rotate(ctx); err != nil || n != live {
		t.Fatalf("Rotate = %d, %v; want the %d unexpired tickets", n, err, live)
	}
	_ = s.Close()

	s = openPostgres(t, dsn, storetest.Keyring(t, newKey))
	for i := range live {
		v, err := s.TakeTicket(ctx, "state", fmt.Sprintf("live-%03d", i))
		if want := fmt.Sprintf("in flight %d", i); err != nil || string(v) != want {
			t.Fatalf("TakeTicket after rotation and removal of the old key = %q, %v; want %q", v, err, want)
		}
	}
}

// TestPostgresFillRenewable: rows written before migration 0002 (renewable
// NULL) are filled in when a replica opens the store.
func TestPostgresFillRenewable(t *testing.T) {
	dsn := store.PostgresTestDSN(t)
	kr := storetest.Keyring(t, storetest.Key(t, "k1"))
	s := openPostgres(t, dsn, kr)
	expired := time.Now().Add(-time.Hour)
	withRefresh := &connection.Connection{ProjectID: "p", UserID: "u", IntegrationID: "i", ExpiresAt: expired,
		Credential: connection.Credential{AccessToken: "a", RefreshToken: "r"}}
	bare := &connection.Connection{ProjectID: "p", UserID: "u", IntegrationID: "i", ExpiresAt: expired,
		Credential: connection.Credential{AccessToken: "a"}}
	for _, c := range []*connection.Connection{withRefresh, bare} {
		if err := s.Create(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	if _, err := rawPostgres(t, dsn).Exec(t.Context(), `UPDATE connections SET renewable = NULL`); err != nil {
		t.Fatal(err)
	}
	s = openPostgres(t, dsn, kr)
	var unknown int
	if err := rawPostgres(t, dsn).QueryRow(t.Context(), `SELECT count(*) FROM connections WHERE renewable IS NULL`).Scan(&unknown); err != nil || unknown != 0 {
		t.Fatalf("%d rows left with renewable NULL (%v)", unknown, err)
	}
	page, err := s.ListConnections(t.Context(), store.ConnectionFilter{Health: connection.HealthExpiredRefreshable})
	if err != nil || len(page.Connections) != 1 || page.Connections[0].ID != withRefresh.ID {
		t.Errorf("expired_refreshable after the fill-in = %+v, %v; want the one with a refresh token", page.Connections, err)
	}
}
