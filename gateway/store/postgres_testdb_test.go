package store

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresTestEnv names the variable that holds the connection string of a
// PostgreSQL database the tests may use (.ci/postgres.sh prints it).
const postgresTestEnv = "PLUGBOARD_TEST_POSTGRES"

// PostgresTestServer returns the connection string in PLUGBOARD_TEST_POSTGRES,
// or skips t when it is not set. (Exported for the package's external tests.)
func PostgresTestServer(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(postgresTestEnv)
	if dsn == "" {
		t.Skip("PLUGBOARD_TEST_POSTGRES not set: skipping PostgreSQL tests (.ci/run starts a server and sets it)")
	}
	return dsn
}

// PostgresTestDSN creates a new, empty schema in the test database and
// returns a connection string whose search_path is that schema: each test
// gets a database of its own, at the cost of a CREATE SCHEMA. The schema is
// dropped when t ends (after the stores the test opened are closed, since
// they register their cleanup later).
func PostgresTestDSN(t testing.TB) string {
	t.Helper()
	base := PostgresTestServer(t)
	schema := testSchemaName(t.Name())
	adminExec(t, base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() { adminExec(t, base, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") })
	return WithDSNParam(t, base, "search_path", schema)
}

// WithDSNParam returns dsn (a URL or key=value pairs) with a parameter
// added; value must not need quoting.
func WithDSNParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s is not a valid URL", postgresTestEnv)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

// adminExec runs one statement on a connection of its own; it also works
// in a cleanup, after t's context has ended.
func adminExec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to %s: %v", postgresTestEnv, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// testSchemaName makes a schema name out of a test name: lowercase
// letters, digits and underscores, unique, at most 63 bytes.
func testSchemaName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 48 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteByte('_')
	b.WriteString(strings.ToLower(rand.Text()[:10]))
	return b.String()
}
