package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

// How the store's cost grows with the connections it holds (README "How
// cost grows"). By default one small size runs, which also checks that
// the hot queries use an index; PLUGBOARD_GROWTH=1 runs 1k, 100k and 1M
// connections over up to 100k users (the 1M sizes take minutes). Rows are
// written in batches (SQLite) or with COPY (PostgreSQL), sealed with the
// store's own sealing, so the data is what the gateway reads.

const (
	growthProject      = "project-1"
	growthIntegrations = 10
	growthMaxUsers     = 100_000
	heavyUser          = "user-heavy" // holds 50 connections (/sdk/me)
)

func growthSizes() []int {
	if os.Getenv("PLUGBOARD_GROWTH") == "1" {
		return []int{1_000, 100_000, 1_000_000}
	}
	return []int{1_000}
}

// growthRow is connection i of n: user i mod min(n, 100k), integration
// i div that, so every user holds up to 10 connections, one per
// integration, each the default.
func growthRow(i, n int) *connection.Connection {
	users := min(n, growthMaxUsers)
	return &connection.Connection{
		ID: newConnectionID(), ProjectID: growthProject, IsDefault: true, Status: connection.StatusValid,
		UserID: fmt.Sprintf("user-%06d", i%users), IntegrationID: fmt.Sprintf("integration-%d", i/users),
		Credential: connection.Credential{AccessToken: fmt.Sprintf("gho_%036d", i), RefreshToken: fmt.Sprintf("ghr_%076d", i),
			TokenType: "bearer", Inputs: map[string]string{"subdomain": "acme"}},
		ExpiresAt: time.Now().Add(time.Hour), Version: 1,
	}
}

// heavyRows are heavyUser's 50 connections: 10 on each of 5 integrations.
func heavyRows() []*connection.Connection {
	var out []*connection.Connection
	for i := range 50 {
		c := growthRow(i, 1)
		c.UserID, c.IntegrationID, c.IsDefault = heavyUser, fmt.Sprintf("integration-%d", i%5), i < 5
		out = append(out, c)
	}
	return out
}

// growthStore is what the measurements need of either driver.
type growthStore interface {
	Store
	explain(ctx context.Context, query string, args ...any) (string, error)
}

func (s *SQLite) explain(ctx context.Context, query string, args ...any) (string, error) {
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return "", err
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; "), rows.Err()
}

func (p *Postgres) explain(ctx context.Context, query string, args ...any) (string, error) {
	rows, err := p.pool.Query(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan = append(plan, strings.TrimSpace(line))
	}
	return strings.Join(plan, "; "), rows.Err()
}

// seedSQLiteGrowth writes n connections and heavyUser's in transactions
// of 10,000 rows.
func seedSQLiteGrowth(ctx context.Context, s *SQLite, n int) error {
	rows := heavyRows()
	for start := 0; start < n || rows != nil; start += 10_000 {
		for i := start; i < min(start+10_000, n); i++ {
			rows = append(rows, growthRow(i, n))
		}
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO connections (`+connectionColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			now := nowMillis()
			for i, c := range rows {
				sealed, err := sealCredential(s.kr, c)
				if err != nil {
					return err
				}
				created := toMillis(now) + int64(start+i)
				if _, err := stmt.ExecContext(ctx, c.ID, c.ProjectID, c.UserID, c.IntegrationID, c.IsDefault, string(c.Status),
					sealed, nullMillis(c.ExpiresAt), "", created, created, 1, nil, nil, c.Credential.Renewable()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		rows = nil
	}
	return nil
}

// seedPostgresGrowth writes n connections and heavyUser's with COPY, in
// chunks of 50,000 rows.
func seedPostgresGrowth(ctx context.Context, p *Postgres, n int) error {
	cols := strings.Split(strings.NewReplacer("\n", "", "\t", "", " ", "").Replace(connectionColumns), ",")
	rows := heavyRows()
	now := nowMillis()
	for start := 0; start < n || rows != nil; start += 50_000 {
		for i := start; i < min(start+50_000, n); i++ {
			rows = append(rows, growthRow(i, n))
		}
		values := make([][]any, len(rows))
		for i, c := range rows {
			sealed, err := sealCredential(p.kr, c)
			if err != nil {
				return err
			}
			created := now.Add(time.Duration(start+i) * time.Millisecond)
			values[i] = []any{c.ID, c.ProjectID, c.UserID, c.IntegrationID, c.IsDefault, string(c.Status),
				sealed, c.ExpiresAt, "", created, created, 1, nil, nil, c.Credential.Renewable()}
		}
		if _, err := p.pool.CopyFrom(ctx, pgx.Identifier{"connections"}, cols, pgx.CopyFromRows(values)); err != nil {
			return err
		}
		rows = nil
	}
	_, err := p.pool.Exec(ctx, "ANALYZE connections")
	return err
}

func TestGrowthSQLite(t *testing.T) {
	for _, n := range growthSizes() {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "growth.db")
			kr := mustKeyring(t, "k:"+keyAStd)
			open := func() (growthStore, error) { return OpenSQLite(t.Context(), path, kr) }
			measureGrowth(t, n, open, func(st growthStore) error { return seedSQLiteGrowth(t.Context(), st.(*SQLite), n) })
		})
	}
}

func TestGrowthPostgres(t *testing.T) {
	for _, n := range growthSizes() {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dsn := PostgresTestDSN(t)
			kr := mustKeyring(t, "k:"+keyAStd)
			open := func() (growthStore, error) { return OpenPostgres(t.Context(), dsn, kr) }
			measureGrowth(t, n, open, func(st growthStore) error { return seedPostgresGrowth(t.Context(), st.(*Postgres), n) })
		})
	}
}

// measureGrowth seeds a store with n connections, checks that the hot
// queries use an index, and logs one row of the README's table.
func measureGrowth(t *testing.T, n int, open func() (growthStore, error), seed func(growthStore) error) {
	ctx := t.Context()
	st, err := open()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := seed(st); err != nil {
		t.Fatalf("seeding %d connections: %v", n, err)
	}
	seeded := time.Since(start)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	st, err = open()
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Since(start)
	t.Cleanup(func() { _ = st.Close() })

	// The hot queries use an index, never a scan of the table.
	var sqlite bool
	_, sqlite = st.(*SQLite)
	users := min(n, growthMaxUsers)
	for name, q := range map[string][]any{
		"Default (proxy)":          {sqlDefault, growthProject, "user-000001", "integration-0"},
		"List (/sdk/me)":           {`SELECT ` + selectColumns + ` FROM connections WHERE project_id = ? AND user_id = ? ORDER BY created_at, rowid`, growthProject, heavyUser},
		"by id (refresh)":          {sqlByID, "00000000-0000-4000-8000-000000000000"},
		"admin, project":           {`SELECT ` + infoColumns + ` FROM connections WHERE project_id = ? ORDER BY created_at, id LIMIT 51`, growthProject},
		"admin, user":              {`SELECT ` + infoColumns + ` FROM connections WHERE user_id = ? ORDER BY created_at, id LIMIT 51`, "user-000001"},
		"fill renewable (startup)": {`SELECT id FROM connections WHERE renewable IS NULL AND id > ? ORDER BY id LIMIT 500`, "00000000-0000-0000-0000-000000000000"},
	} {
		query := q[0].(string)
		if !sqlite {
			query = toPostgresPlaceholders(strings.Replace(query, "rowid", "seq", 1))
			query = strings.Replace(query, "is_default = 1", "is_default", 1)
			query = strings.Replace(query, "id > $1 ORDER BY id", "id > $1::uuid ORDER BY id", 1)
		}
		plan, err := st.explain(ctx, query, q[1:]...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", name, err)
		}
		t.Logf("plan of %s: %s", name, plan)
		// PostgreSQL plans a small table with a sequential scan, rightly:
		// judge its plans only where the table is big enough to matter.
		scans := (sqlite && strings.Contains(plan, "SCAN connections") && !strings.Contains(plan, "USING")) ||
			(!sqlite && n >= 100_000 && strings.Contains(plan, "Seq Scan"))
		if scans {
			t.Errorf("%s scans the whole table: %s", name, plan)
		}
	}

	// Default lookups of users nobody asked for yet: what a proxied
	// request pays in the store when its connection is not cached.
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	lookups := make([]time.Duration, 0, 2000)
	for range cap(lookups) {
		u := rng.IntN(users)
		start := time.Now()
		c, err := st.Default(ctx, growthProject, fmt.Sprintf("user-%06d", u), "integration-0")
		lookups = append(lookups, time.Since(start))
		if err != nil || c.Credential.AccessToken == "" {
			t.Fatalf("Default user-%06d: %v", u, err)
		}
	}
	meList := timeN(t, 200, func() error {
		conns, err := st.List(ctx, growthProject, heavyUser)
		if err == nil && len(conns) != 50 {
			err = fmt.Errorf("%d connections, want 50", len(conns))
		}
		return err
	})
	firstPage := timeN(t, 100, func() error {
		_, err := st.ListConnections(ctx, ConnectionFilter{ProjectID: growthProject})
		return err
	})
	userPage := timeN(t, 100, func() error {
		page, err := st.ListConnections(ctx, ConnectionFilter{UserID: "user-000001"})
		if err == nil && len(page.Connections) == 0 {
			err = fmt.Errorf("no connections of user-000001")
		}
		return err
	})
	// The cursor of a page deep in the listing: cost must not grow with
	// how deep it is (keyset pagination, not OFFSET).
	page, err := st.ListConnections(ctx, ConnectionFilter{Limit: MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	for range min(n/MaxPageLimit/2, 200) {
		if page, err = st.ListConnections(ctx, ConnectionFilter{Limit: MaxPageLimit, Cursor: page.NextCursor}); err != nil {
			t.Fatal(err)
		}
	}
	deepPage := timeN(t, 100, func() error {
		_, err := st.ListConnections(ctx, ConnectionFilter{Cursor: page.NextCursor})
		return err
	})
	healthPage := timeN(t, 20, func() error {
		_, err := st.ListConnections(ctx, ConnectionFilter{Health: connection.HealthNeedsReconnect})
		return err
	})
	counts := timeN(t, 5, func() error {
		_, err := st.CountConnections(ctx, time.Now())
		return err
	})
	slices.Sort(lookups)
	t.Logf("GROWTH | %s | %d | seed %v | open %v | Default p50 %v p99 %v | List(50) %v | admin page %v, by user %v, deep %v, by health %v | count %v",
		map[bool]string{true: "SQLite", false: "PostgreSQL"}[sqlite], n, seeded.Round(time.Millisecond), opened.Round(time.Millisecond),
		lookups[len(lookups)/2].Round(time.Microsecond), lookups[len(lookups)*99/100].Round(time.Microsecond),
		meList, firstPage, userPage, deepPage, healthPage, counts)
}

// timeN runs f n times and returns the median duration.
func timeN(t *testing.T, n int, f func() error) time.Duration {
	t.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n/2].Round(time.Microsecond)
}

// toPostgresPlaceholders numbers ? placeholders as $1, $2, ….
func toPostgresPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Exported for the package's external tests (growth_gateway_test.go).
const (
	GrowthProject      = growthProject
	GrowthIntegrations = growthIntegrations
	GrowthMaxUsers     = growthMaxUsers
	HeavyUser          = heavyUser
)

// GrowthSizes are the store sizes the growth tests measure.
func GrowthSizes() []int { return growthSizes() }

// SeedGrowth writes n connections over up to 100k users, and HeavyUser's
// 50, into a new store.
func SeedGrowth(ctx context.Context, st Store, n int) error {
	switch s := st.(type) {
	case *SQLite:
		return seedSQLiteGrowth(ctx, s, n)
	case *Postgres:
		return seedPostgresGrowth(ctx, s, n)
	}
	return fmt.Errorf("cannot seed a %T", st)
}
