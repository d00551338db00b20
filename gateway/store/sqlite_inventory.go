package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/seal"
)

var _ Inventory = (*SQLite)(nil)

const (
	infoColumns = `id, project_id, user_id, integration_id, is_default, status, renewable,
	expires_at, last_error, last_refresh_at, last_used_at, created_at, updated_at,
	last_checked_at, last_check_ok_at, check_error`
	sqliteRenewable = `COALESCE(renewable, 0) = 1`
)

// ListConnections returns a page of the connections f selects; see Inventory.
func (s *SQLite) ListConnections(ctx context.Context, f ConnectionFilter) (ConnectionPage, error) {
	limit, err := f.pageLimit()
	if err != nil {
		return ConnectionPage{}, err
	}
	var where []string
	var args []any
	for _, eq := range []struct{ col, v string }{
		{"project_id", f.ProjectID}, {"user_id", f.UserID}, {"integration_id", f.IntegrationID},
	} {
		if eq.v != "" {
			where, args = append(where, eq.col+" = ?"), append(args, eq.v)
		}
	}
	if f.Health != "" {
		if err := checkHealth(f.Health); err != nil {
			return ConnectionPage{}, err
		}
		where = append(where, "("+healthSQL("?", sqliteRenewable)+") = ?")
		args = append(args, f.now().UnixMilli(), string(f.Health))
	}
	if f.Cursor != "" {
		created, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return ConnectionPage{}, fmt.Errorf("store: list connections: %w", err)
		}
		// A row value, not "created_at > ? OR (created_at = ? AND id > ?)":
		// SQLite seeks the index to it, where the OR made it walk every
		// earlier row (a page deep in 100k connections: 12 ms, not 0.3).
		where = append(where, "(created_at, id) > (?, ?)")
		args = append(args, created, id)
	}
	q := `SELECT ` + infoColumns + ` FROM connections`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return ConnectionPage{}, fmt.Errorf("store: list connections: %w", err)
	}
	defer rows.Close()
	page := ConnectionPage{Connections: []ConnectionInfo{}}
	for rows.Next() {
		var (
			c                        ConnectionInfo
			status                   string
			renewable                sql.NullBool
			expires, refreshed, used sql.NullInt64
			created, updated         int64
			checked, checkOK         sql.NullInt64
		)
		if err := rows.Scan(&c.ID, &c.ProjectID, &c.UserID, &c.IntegrationID, &c.IsDefault, &status, &renewable,
			&expires, &c.LastError, &refreshed, &used, &created, &updated, &checked, &checkOK, &c.CheckError); err != nil {
			return ConnectionPage{}, fmt.Errorf("store: list connections: %w", err)
		}
		c.LastCheckedAt, c.LastCheckOKAt = fromNullMillis(checked), fromNullMillis(checkOK)
		c.Status, c.Renewable = connection.Status(status), renewable.Bool
		c.ExpiresAt, c.LastRefreshAt, c.LastUsedAt = fromNullMillis(expires), fromNullMillis(refreshed), fromNullMillis(used)
		c.CreatedAt, c.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
		page.Connections = append(page.Connections, c)
	}
	if err := rows.Err(); err != nil {
		return ConnectionPage{}, fmt.Errorf("store: list connections: %w", err)
	}
	if len(page.Connections) > limit {
		page.Connections = page.Connections[:limit]
		last := page.Connections[limit-1]
		page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

// GetConnection returns one connection, whoever's it is.
func (s *SQLite) GetConnection(ctx context.Context, id string) (*connection.Connection, error) {
	c, err := s.scanOne(s.stmts.byID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: connection %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get connection %s: %w", id, err)
	}
	return c, nil
}

// CountConnections counts connections by integration and Health at now.
func (s *SQLite) CountConnections(ctx context.Context, now time.Time) ([]ConnectionCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT integration_id, `+healthSQL("?", sqliteRenewable)+` AS health, count(*)
		FROM connections GROUP BY integration_id, health ORDER BY integration_id, health`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: count connections: %w", err)
	}
	defer rows.Close()
	var counts []ConnectionCount
	for rows.Next() {
		var c ConnectionCount
		var health string
		if err := rows.Scan(&c.IntegrationID, &health, &c.Count); err != nil {
			return nil, fmt.Errorf("store: count connections: %w", err)
		}
		c.Health = connection.Health(health)
		counts = append(counts, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count connections: %w", err)
	}
	return counts, nil
}

// MarkUsed records when connections were last used, in one transaction.
func (s *SQLite) MarkUsed(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE connections SET last_used_at = ?1
			WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for id, at := range used {
			if _, err := st.ExecContext(ctx, at.UnixMilli(), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record %d connections' last use: %w", len(used), err)
	}
	return nil
}

// fillRenewable sets renewable on the rows written before the column
// existed, decrypting their credentials in batches. A row whose key is not
// in the keyring is left unknown (counted as not renewable) rather than
// failing the open.
func (s *SQLite) fillRenewable(ctx context.Context) error {
	fail := func(err error) error {
		return fmt.Errorf("store: open SQLite %s: filling in connections.renewable: %w", s.path, err)
	}
	after := ""
	for {
		found, err := s.unfilledBatch(ctx, after)
		if err != nil {
			return fail(err)
		}
		if len(found) == 0 {
			return nil
		}
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			for _, u := range found {
				if renewable, known := u.renewable(s.kr); known {
					if _, err := tx.ExecContext(ctx, `UPDATE connections SET renewable = ? WHERE id = ? AND renewable IS NULL`,
						renewable, u.conn.ID); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
		after = found[len(found)-1].conn.ID
	}
}

func (s *SQLite) unfilledBatch(ctx context.Context, after string) ([]unfilled, error) {
	rows, err := s.w.QueryContext(ctx, `SELECT id, project_id, user_id, integration_id, credential
		FROM connections WHERE renewable IS NULL AND id > ? ORDER BY id LIMIT ?`, after, rotateBatch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []unfilled
	for rows.Next() {
		var u unfilled
		if err := rows.Scan(&u.conn.ID, &u.conn.ProjectID, &u.conn.UserID, &u.conn.IntegrationID, &u.sealed); err != nil {
			return nil, err
		}
		found = append(found, u)
	}
	return found, rows.Err()
}

// unfilled is a row whose renewable is not known yet.
type unfilled struct {
	conn   connection.Connection
	sealed string
}

// renewable opens the row's credential to tell; known is false when it
// does not open.
func (u unfilled) renewable(kr *seal.Keyring) (renewable, known bool) {
	c := u.conn
	if err := openCredential(kr, &c, u.sealed); err != nil {
		return false, false
	}
	return c.Credential.Renewable(), true
}

// RecordCheck records a health check; see Inventory.
func (s *SQLite) RecordCheck(ctx context.Context, id string, at time.Time, checkError string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var prevChecked sql.NullInt64
		var prevError, projectID string
		err := tx.QueryRowContext(ctx, `SELECT last_checked_at, check_error, project_id FROM connections WHERE id = ?`, id).Scan(&prevChecked, &prevError, &projectID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		ms := at.UnixMilli()
		if _, err := tx.ExecContext(ctx, `UPDATE connections SET last_checked_at = ?1, check_error = ?2,
			last_check_ok_at = CASE WHEN ?2 = '' THEN ?1 ELSE last_check_ok_at END WHERE id = ?3`, ms, checkError, id); err != nil {
			return err
		}
		if !s.wantsOutbox(projectID) {
			return nil
		}
		c, err := s.scanOne(tx.QueryRowContext(ctx, sqlByID, id))
		if err != nil {
			return err
		}
		return s.outbox(ctx, tx, Change{Op: ChangeChecked, Connection: withoutSecrets(c),
			PreviousCheckedAt: fromNullMillis(prevChecked), PreviousCheckError: prevError})
	})
	if err != nil {
		return fmt.Errorf("store: record health check of connection %s: %w", id, err)
	}
	return nil
}
