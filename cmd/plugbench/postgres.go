package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// createSchema gives the PostgreSQL replicas a place of their own (other
// tests' data and sessions are never touched): a fresh database when the
// user may create one, else a fresh schema in the database dsn names. It
// sets r.pgDSN to reach it and r.pgDrop to remove it.
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
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }() // read-only use; nothing to lose
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return err
	}
	name := "plugbench_" + randomHex(6)
	drop := func(stmt string) {
		r.pgDrop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := pgx.Connect(ctx, dsn)
			if err == nil {
				_, err = c.Exec(ctx, stmt)
				_ = c.Close(ctx) // the statement's own error is what counts
			}
			if err != nil {
				fmt.Fprintf(r.progress, "plugbench: %s: %v\n", stmt, err)
			}
		}
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err == nil {
		drop("DROP DATABASE " + name + " WITH (FORCE)")
		u.Path = "/" + name
		r.pgDSN = u.String()
		r.pgInfo = fmt.Sprintf("PostgreSQL %s at %s, fresh database %s (dropped afterwards)", version, u.Host, name)
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return fmt.Errorf("CREATE SCHEMA %s: %w", name, err)
	}
	drop("DROP SCHEMA " + name + " CASCADE")
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	r.pgDSN = u.String()
	r.pgInfo = fmt.Sprintf("PostgreSQL %s at %s, database %s, fresh schema %s (dropped afterwards)",
		version, u.Host, u.Path[min(1, len(u.Path)):], name)
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
