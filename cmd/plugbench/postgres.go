package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// createSchema makes a fresh schema in the database dsn names, for the
// PostgreSQL replicas only (other tests' data is never touched), sets
// r.pgDSN to dsn with that schema as search_path, and r.pgDrop to drop it.
func (r *rig) createSchema(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("not a URL") // the error would quote the password
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", redactURL(u), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return err
	}
	schema := "plugbench_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return fmt.Errorf("CREATE SCHEMA %s: %w", schema, err)
	}
	r.pgDrop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			_, err = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
		if err != nil {
			fmt.Fprintf(r.progress, "plugbench: dropping the PostgreSQL schema %s: %v\n", schema, err)
		}
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	r.pgDSN = u.String()
	r.pgInfo = fmt.Sprintf("PostgreSQL %s at %s, database %s, fresh schema %s (dropped afterwards)",
		version, u.Host, u.Path[min(1, len(u.Path)):], schema)
	return nil
}

// redactURL hides the password of a URL for messages.
func redactURL(u *url.URL) string {
	if _, has := u.User.Password(); has {
		v := *u
		v.User = url.UserPassword(u.User.Username(), "redacted")
		return v.String()
	}
	return u.String()
}
