package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const connectionColumns = `id, project_id, user_id, integration_id, is_default, status,
	credential, expires_at, last_error, created_at, updated_at, version,
	last_refresh_at, last_used_at, renewable`

// selectColumns are connectionColumns and the last health check's, which
// only RecordCheck writes (a new row has none).
const selectColumns = connectionColumns + `, last_checked_at, last_check_ok_at, check_error`

// Create inserts c. An empty c.ID gets a new UUID v4; a given one must be a
// canonical lowercase UUID v4. c.Status defaults to StatusValid. The
// connection becomes the default if c.IsDefault is set (the previous
// default stops being one) or if the user has no default for the
// integration yet. On success c holds what was stored.
func (s *SQLite) Create(ctx context.Context, c *connection.Connection) error {
	if err := validateNew(c); err != nil {
		return fmt.Errorf("store: create connection: %w", err)
	}
	n := *c
	if n.ID == "" {
		n.ID = newConnectionID()
	}
	if n.Status == "" {
		n.Status = connection.StatusValid
	}
	now := nowMillis()
	n.CreatedAt, n.UpdatedAt, n.Version = now, now, 1
	sealed, err := sealCredential(s.kr, &n)
	if err != nil {
		return fmt.Errorf("store: create connection: %w", err)
	}

	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if n.IsDefault {
			if _, err := tx.ExecContext(ctx, `UPDATE connections SET is_default = 0, updated_at = ?
				WHERE project_id = ? AND user_id = ? AND integration_id = ? AND is_default = 1`,
				toMillis(now), n.ProjectID, n.UserID, n.IntegrationID); err != nil {
				return err
			}
		} else {
			var hasDefault bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM connections
				WHERE project_id = ? AND user_id = ? AND integration_id = ? AND is_default = 1)`,
				n.ProjectID, n.UserID, n.IntegrationID).Scan(&hasDefault); err != nil {
				return err
			}
			n.IsDefault = !hasDefault
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO connections (`+connectionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			n.ID, n.ProjectID, n.UserID, n.IntegrationID, n.IsDefault, string(n.Status),
			sealed, nullMillis(n.ExpiresAt), n.LastError, toMillis(n.CreatedAt), toMillis(n.UpdatedAt), n.Version,
			nullMillis(n.LastRefreshAt), nullMillis(n.LastUsedAt), n.Credential.Renewable())
		if err != nil || !s.wantsOutbox(n.ProjectID) {
			return err
		}
		return s.outbox(ctx, tx, Change{Op: ChangeCreated, Connection: withoutSecrets(&n)})
	})
	if err != nil {
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
			return fmt.Errorf("store: create connection: id %s already exists", n.ID)
		}
		return fmt.Errorf("store: create connection for user %q in project %q: %w", n.UserID, n.ProjectID, err)
	}
	n.ExpiresAt = fromNullMillis(nullMillis(n.ExpiresAt))
	n.LastRefreshAt = fromNullMillis(nullMillis(n.LastRefreshAt))
	n.LastUsedAt = fromNullMillis(nullMillis(n.LastUsedAt))
	*c = n
	return nil
}

// Get returns one connection of a user.
func (s *SQLite) Get(ctx context.Context, projectID, userID, id string) (*connection.Connection, error) {
	c, err := s.scanOne(s.stmts.get.QueryRowContext(ctx, id, projectID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: connection %s of user %q in project %q: %w", id, userID, projectID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get connection %s: %w", id, err)
	}
	return c, nil
}

// Default returns the user's default connection for an integration.
func (s *SQLite) Default(ctx context.Context, projectID, userID, integrationID string) (*connection.Connection, error) {
	c, err := s.scanOne(s.stmts.byDefault.QueryRowContext(ctx, projectID, userID, integrationID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: user %q in project %q has no connection to %q: %w",
			userID, projectID, integrationID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: default connection to %q of user %q: %w", integrationID, userID, err)
	}
	return c, nil
}

// List returns all connections of a user, oldest first (insertion order
// among those created in the same millisecond).
func (s *SQLite) List(ctx context.Context, projectID, userID string) ([]*connection.Connection, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+selectColumns+` FROM connections
		WHERE project_id = ? AND user_id = ? ORDER BY created_at, rowid`, projectID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list connections of user %q in project %q: %w", userID, projectID, err)
	}
	defer rows.Close()
	var cs []*connection.Connection
	for rows.Next() {
		c, err := s.scanOne(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list connections of user %q in project %q: %w", userID, projectID, err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list connections of user %q in project %q: %w", userID, projectID, err)
	}
	return cs, nil
}

// Count returns how many connections the user holds for integrationID, or
// in all when integrationID is empty.
func (s *SQLite) Count(ctx context.Context, projectID, userID, integrationID string) (int, error) {
	q, args := `SELECT count(*) FROM connections WHERE project_id = ? AND user_id = ?`, []any{projectID, userID}
	if integrationID != "" {
		q, args = q+` AND integration_id = ?`, append(args, integrationID)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count connections of user %q in project %q: %w", userID, projectID, err)
	}
	return n, nil
}

// Update writes c's status, credential, expiry, last error and last
// refresh (LastUsedAt excepted: see MarkUsed) if c.Version
// is still the stored version, then bumps c.Version and sets c.UpdatedAt.
// c.ID, ProjectID, UserID and IntegrationID select the row; they and
// IsDefault are never changed by Update.
func (s *SQLite) Update(ctx context.Context, c *connection.Connection) error {
	if c == nil {
		return errors.New("store: update connection: connection is nil")
	}
	if err := validateStatus(c.Status); err != nil {
		return fmt.Errorf("store: update connection %s: %w", c.ID, err)
	}
	sealed, err := sealCredential(s.kr, c)
	if err != nil {
		return fmt.Errorf("store: update connection %s: %w", c.ID, err)
	}
	now := nowMillis()
	exec := func(stmt *sql.Stmt) (int64, error) {
		res, err := stmt.ExecContext(ctx, string(c.Status), sealed, nullMillis(c.ExpiresAt), c.LastError, toMillis(now),
			nullMillis(c.LastRefreshAt), c.Credential.Renewable(), c.ID, c.ProjectID, c.UserID, c.IntegrationID, c.Version)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	var n int64
	if !s.wantsOutbox(c.ProjectID) {
		n, err = exec(s.stmts.update)
	} else {
		n, err = s.updateWithOutbox(ctx, c, now, exec)
	}
	if err != nil {
		return fmt.Errorf("store: update connection %s: %w", c.ID, err)
	}
	if n == 0 {
		return s.whyNotUpdated(ctx, c)
	}
	c.Version++
	c.UpdatedAt = now
	c.ExpiresAt = fromNullMillis(nullMillis(c.ExpiresAt)) // as stored: UTC, milliseconds
	c.LastRefreshAt = fromNullMillis(nullMillis(c.LastRefreshAt))
	return nil
}

// updateWithOutbox runs exec (the update) in a transaction with the outbox
// call, which sees the status and last refresh from before the update.
func (s *SQLite) updateWithOutbox(ctx context.Context, c *connection.Connection, now time.Time, exec func(*sql.Stmt) (int64, error)) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var prevStatus string
		var prevRefresh sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT status, last_refresh_at FROM connections WHERE id = ?`, c.ID).Scan(&prevStatus, &prevRefresh)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // n = 0: whyNotUpdated says why
		}
		if err != nil {
			return err
		}
		if n, err = exec(tx.StmtContext(ctx, s.stmts.update)); err != nil || n == 0 {
			return err
		}
		written := withoutSecrets(c)
		written.Version, written.UpdatedAt = c.Version+1, now
		written.ExpiresAt, written.LastRefreshAt = fromNullMillis(nullMillis(c.ExpiresAt)), fromNullMillis(nullMillis(c.LastRefreshAt))
		return s.outbox(ctx, tx, Change{Op: ChangeUpdated, Connection: written,
			PreviousStatus: connection.Status(prevStatus), PreviousLastRefreshAt: fromNullMillis(prevRefresh)})
	})
	return n, err
}

// whyNotUpdated tells a missing row from a stale version.
func (s *SQLite) whyNotUpdated(ctx context.Context, c *connection.Connection) error {
	var stored int64
	err := s.w.QueryRowContext(ctx, `SELECT version FROM connections
		WHERE id = ? AND project_id = ? AND user_id = ? AND integration_id = ?`,
		c.ID, c.ProjectID, c.UserID, c.IntegrationID).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: update connection %s of user %q in project %q (integration %q): %w",
			c.ID, c.UserID, c.ProjectID, c.IntegrationID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: update connection %s: %w", c.ID, err)
	default:
		return fmt.Errorf("store: update connection %s: read at version %d, stored version is %d: %w",
			c.ID, c.Version, stored, ErrConflict)
	}
}

// SetDefault makes id the user's default for its integration. The default
// flag is not guarded by Version (Update never writes it), so SetDefault
// does not bump Version: a token refresh racing with a user's click on
// "make default" must not fail with ErrConflict.
func (s *SQLite) SetDefault(ctx context.Context, projectID, userID, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var integrationID string
		var isDefault bool
		err := tx.QueryRowContext(ctx, `SELECT integration_id, is_default FROM connections
			WHERE id = ? AND project_id = ? AND user_id = ?`, id, projectID, userID).Scan(&integrationID, &isDefault)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("connection %s of user %q in project %q: %w", id, userID, projectID, ErrNotFound)
		}
		if err != nil || isDefault {
			return err
		}
		now := toMillis(nowMillis())
		if _, err := tx.ExecContext(ctx, `UPDATE connections SET is_default = 0, updated_at = ?
			WHERE project_id = ? AND user_id = ? AND integration_id = ? AND is_default = 1`,
			now, projectID, userID, integrationID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE connections SET is_default = 1, updated_at = ? WHERE id = ?`, now, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set default connection %s: %w", id, err)
	}
	return nil
}

// Delete removes a connection; if it was the default, the user's oldest
// remaining connection for the integration becomes the default.
func (s *SQLite) Delete(ctx context.Context, projectID, userID, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var integrationID, status string
		var wasDefault bool
		err := tx.QueryRowContext(ctx, `DELETE FROM connections WHERE id = ? AND project_id = ? AND user_id = ?
			RETURNING integration_id, is_default, status`, id, projectID, userID).Scan(&integrationID, &wasDefault, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("connection %s of user %q in project %q: %w", id, userID, projectID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if s.wantsOutbox(projectID) {
			if err := s.outbox(ctx, tx, Change{Op: ChangeDeleted, Connection: connection.Connection{ID: id,
				ProjectID: projectID, UserID: userID, IntegrationID: integrationID, Status: connection.Status(status)}}); err != nil {
				return err
			}
		}
		if !wasDefault {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE connections SET is_default = 1, updated_at = ?
			WHERE rowid = (SELECT rowid FROM connections
				WHERE project_id = ? AND user_id = ? AND integration_id = ?
				ORDER BY created_at, rowid LIMIT 1)`,
			toMillis(nowMillis()), projectID, userID, integrationID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete connection %s: %w", id, err)
	}
	return nil
}

type rowScanner interface{ Scan(dest ...any) error }

// scanOne reads one row of connectionColumns and decrypts its credential.
func (s *SQLite) scanOne(row rowScanner) (*connection.Connection, error) {
	var (
		c                connection.Connection
		status, sealed   string
		expires          sql.NullInt64
		created, updated int64
		refreshed, used  sql.NullInt64
		renewable        sql.NullBool
		checked, checkOK sql.NullInt64
	)
	if err := row.Scan(&c.ID, &c.ProjectID, &c.UserID, &c.IntegrationID, &c.IsDefault, &status,
		&sealed, &expires, &c.LastError, &created, &updated, &c.Version, &refreshed, &used, &renewable,
		&checked, &checkOK, &c.CheckError); err != nil {
		return nil, err
	}
	c.LastCheckedAt, c.LastCheckOKAt = fromNullMillis(checked), fromNullMillis(checkOK)
	c.Status = connection.Status(status)
	c.ExpiresAt = fromNullMillis(expires)
	c.LastRefreshAt, c.LastUsedAt = fromNullMillis(refreshed), fromNullMillis(used)
	c.CreatedAt = time.UnixMilli(created).UTC()
	c.UpdatedAt = time.UnixMilli(updated).UTC()
	if err := openCredential(s.kr, &c, sealed); err != nil {
		return nil, err
	}
	return &c, nil
}

func validateNew(c *connection.Connection) error {
	switch {
	case c == nil:
		return errors.New("connection is nil")
	case c.ProjectID == "":
		return errors.New("ProjectID is empty")
	case c.UserID == "":
		return errors.New("UserID is empty")
	case c.IntegrationID == "":
		return errors.New("IntegrationID is empty")
	case c.ID != "" && !validConnectionID(c.ID):
		return fmt.Errorf("id %q is not a lowercase UUID version 4", c.ID)
	}
	if c.Status == "" {
		return nil
	}
	return validateStatus(c.Status)
}

func validateStatus(st connection.Status) error {
	switch st {
	case connection.StatusValid, connection.StatusNeedsReconnect:
		return nil
	}
	return fmt.Errorf("status %q is not %q or %q", st, connection.StatusValid, connection.StatusNeedsReconnect)
}

func isConstraint(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}
