package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The statements of the hot paths (proxy reads, token refresh writes) are
// prepared once per pooled connection: parsing them took a quarter of a
// Default lookup (see BenchmarkDefaultLookup).
const (
	sqlGet = `SELECT ` + selectColumns + ` FROM connections
		WHERE id = ? AND project_id = ? AND user_id = ?`
	sqlDefault = `SELECT ` + selectColumns + ` FROM connections
		WHERE project_id = ? AND user_id = ? AND integration_id = ? AND is_default = 1`
	sqlByID   = `SELECT ` + selectColumns + ` FROM connections WHERE id = ?`
	sqlUpdate = `UPDATE connections
		SET status = ?, credential = ?, expires_at = ?, last_error = ?, updated_at = ?,
			last_refresh_at = ?, renewable = ?, version = version + 1
		WHERE id = ? AND project_id = ? AND user_id = ? AND integration_id = ? AND version = ?`
)

type sqliteStatements struct {
	get, byDefault, byID *sql.Stmt // on the read pool
	update               *sql.Stmt // on the writer
}

func (s *SQLite) prepare(ctx context.Context) error {
	var err error
	prep := func(db *sql.DB, query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.PrepareContext(ctx, query)
		return st
	}
	s.stmts = sqliteStatements{
		get:       prep(s.r, sqlGet),
		byDefault: prep(s.r, sqlDefault),
		byID:      prep(s.r, sqlByID),
		update:    prep(s.w, sqlUpdate),
	}
	if err != nil {
		_ = s.stmts.close()
		return fmt.Errorf("store: open SQLite %s: preparing statements: %w", s.path, err)
	}
	return nil
}

func (st *sqliteStatements) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.get, st.byDefault, st.byID, st.update} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
