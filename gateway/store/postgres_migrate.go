package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migratePostgres brings the schema (the first schema of search_path) up to
// date in one transaction, and returns the versions it applied.
//
// Replicas often start together: each takes the schema's migration lock
// (an advisory transaction lock) before it even looks at schema_migrations,
// so one migrates while the others wait, then find nothing left to do.
// PostgreSQL's DDL is transactional: a failed migration leaves nothing
// behind, and the lock goes with the transaction, even if the process dies.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, name string) (applied []int, err error) {
	ms, err := loadMigrations(migrationFS, "migrations/postgres")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err) // a build defect, not an operator error
	}
	known := ms[len(ms)-1].version

	err = runTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`,
			pgLockMigrations); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL
		)`); err != nil {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("reading the schema version: %w", err)
		}
		if current > known {
			return &SchemaTooNewError{Database: name, Version: current, Known: known}
		}
		for _, m := range ms[current:] {
			// Without arguments, pgx sends the file as one simple query,
			// which may hold several statements.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("applying %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`,
				m.version, m.name); err != nil {
				return fmt.Errorf("recording %s: %w", m.name, err)
			}
			applied = append(applied, m.version)
		}
		return nil
	})
	var tooNew *SchemaTooNewError
	switch {
	case errors.As(err, &tooNew):
		return nil, fmt.Errorf("store: %w", err)
	case err != nil:
		return nil, fmt.Errorf("store: migrate PostgreSQL database %s: %w", name, err)
	}
	return applied, nil
}
