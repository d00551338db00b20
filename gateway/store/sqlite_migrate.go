package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrateSQLite brings the schema of the database behind w (the writer) up
// to date in one IMMEDIATE transaction, so that two processes starting
// together do not both migrate, and a failed migration leaves nothing
// behind. It returns the versions it applied.
func migrateSQLite(ctx context.Context, w *sql.DB, name string) (applied []int, err error) {
	ms, err := loadMigrations(migrationFS, "migrations/sqlite")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err) // a build defect, not an operator error
	}
	known := ms[len(ms)-1].version

	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: migrate %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL -- Unix milliseconds, UTC
	) STRICT`); err != nil {
		return nil, fmt.Errorf("store: migrate %s: creating schema_migrations: %w", name, err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return nil, fmt.Errorf("store: migrate %s: reading schema version: %w", name, err)
	}
	if current > known {
		return nil, fmt.Errorf("store: %w", &SchemaTooNewError{Database: name, Version: current, Known: known})
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return nil, fmt.Errorf("store: migrate %s: applying %s: %w", name, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UnixMilli()); err != nil {
			return nil, fmt.Errorf("store: migrate %s: recording %s: %w", name, m.name, err)
		}
		applied = append(applied, m.version)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: migrate %s: commit: %w", name, err)
	}
	return applied, nil
}
