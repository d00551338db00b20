package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

var _ Inventory = (*Postgres)(nil)

const pgRenewable = `COALESCE(renewable, false)`

// ListConnections returns a page of the connections f selects; see Inventory.
func (p *Postgres) ListConnections(ctx context.Context, f ConnectionFilter) (ConnectionPage, error) {
	limit, err := f.pageLimit()
	if err != nil {
		return ConnectionPage{}, err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, eq := range []struct{ col, v string }{
		{"project_id", f.ProjectID}, {"user_id", f.UserID}, {"integration_id", f.IntegrationID},
	} {
		if eq.v != "" {
			where = append(where, eq.col+" = "+arg(eq.v))
		}
	}
	if f.Health != "" {
		if err := checkHealth(f.Health); err != nil {
			return ConnectionPage{}, err
		}
		where = append(where, "("+healthSQL(arg(f.now())+"::timestamptz", pgRenewable)+") = "+arg(string(f.Health)))
	}
	if f.Cursor != "" {
		created, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return ConnectionPage{}, fmt.Errorf("store: list connections: %w", err)
		}
		where = append(where, "(created_at, id) > ("+arg(time.UnixMilli(created).UTC())+"::timestamptz, "+arg(id)+"::uuid)")
	}
	q := `SELECT ` + infoColumns + ` FROM connections`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at, id LIMIT ` + arg(limit+1)
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return ConnectionPage{}, fmt.Errorf("store: list connections: %w", err)
	}
	defer rows.Close()
	page := ConnectionPage{Connections: []ConnectionInfo{}}
	for rows.Next() {
		var (
			c                        ConnectionInfo
			status                   string
			renewable                pgtype.Bool
			expires, refreshed, used pgtype.Timestamptz
			checked, checkOK         pgtype.Timestamptz
		)
		if err := rows.Scan(&c.ID, &c.ProjectID, &c.UserID, &c.IntegrationID, &c.IsDefault, &status, &renewable,
			&expires, &c.LastError, &refreshed, &used, &c.CreatedAt, &c.UpdatedAt, &checked, &checkOK, &c.CheckError); err != nil {
			return ConnectionPage{}, fmt.Errorf("store: list connections: %w", err)
		}
		c.LastCheckedAt, c.LastCheckOKAt = pgTime(checked), pgTime(checkOK)
		c.Status, c.Renewable = connection.Status(status), renewable.Bool
		c.ExpiresAt, c.LastRefreshAt, c.LastUsedAt = pgTime(expires), pgTime(refreshed), pgTime(used)
		c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
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
func (p *Postgres) GetConnection(ctx context.Context, id string) (*connection.Connection, error) {
	if !validConnectionID(id) {
		return nil, fmt.Errorf("store: connection %s: %w", id, ErrNotFound)
	}
	c, err := p.scanOne(p.pool.QueryRow(ctx, pgByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: connection %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get connection %s: %w", id, err)
	}
	return c, nil
}

// CountConnections counts connections by integration and Health at now.
func (p *Postgres) CountConnections(ctx context.Context, now time.Time) ([]ConnectionCount, error) {
	rows, err := p.pool.Query(ctx, `SELECT integration_id, `+healthSQL("$1::timestamptz", pgRenewable)+` AS health, count(*)
		FROM connections GROUP BY 1, 2 ORDER BY 1, 2`, now)
	if err != nil {
		return nil, fmt.Errorf("store: count connections: %w", err)
	}
	defer rows.Close()
	var counts []ConnectionCount
	for rows.Next() {
		var c ConnectionCount
		var health string
		var n int64
		if err := rows.Scan(&c.IntegrationID, &health, &n); err != nil {
			return nil, fmt.Errorf("store: count connections: %w", err)
		}
		c.Health, c.Count = connection.Health(health), int(n)
		counts = append(counts, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count connections: %w", err)
	}
	return counts, nil
}

// MarkUsed records when connections were last used, in one statement.
func (p *Postgres) MarkUsed(ctx context.Context, used map[string]time.Time) error {
	ids := make([]string, 0, len(used))
	times := make([]time.Time, 0, len(used))
	for id, at := range used {
		if validConnectionID(id) {
			ids, times = append(ids, id), append(times, pgMillis(at))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := p.pool.Exec(ctx, `UPDATE connections AS c SET last_used_at = u.at
		FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
		WHERE c.id = u.id AND (c.last_used_at IS NULL OR c.last_used_at < u.at)`, ids, times)
	if err != nil {
		return fmt.Errorf("store: record %d connections' last use: %w", len(ids), err)
	}
	return nil
}

// fillRenewable is SQLite.fillRenewable for PostgreSQL. Replicas starting
// together may both fill a row in, with the same value.
func (p *Postgres) fillRenewable(ctx context.Context) error {
	fail := func(err error) error {
		return fmt.Errorf("store: open PostgreSQL database %s: filling in connections.renewable: %w", p.name, err)
	}
	after := "00000000-0000-0000-0000-000000000000"
	for {
		rows, err := p.pool.Query(ctx, `SELECT id, project_id, user_id, integration_id, credential
			FROM connections WHERE renewable IS NULL AND id > $1::uuid ORDER BY id LIMIT $2`, after, rotateBatch)
		if err != nil {
			return fail(err)
		}
		var found []unfilled
		for rows.Next() {
			var u unfilled
			if err := rows.Scan(&u.conn.ID, &u.conn.ProjectID, &u.conn.UserID, &u.conn.IntegrationID, &u.sealed); err != nil {
				rows.Close()
				return fail(err)
			}
			found = append(found, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fail(err)
		}
		if len(found) == 0 {
			return nil
		}
		batch := &pgx.Batch{}
		for _, u := range found {
			if renewable, known := u.renewable(p.kr); known {
				batch.Queue(`UPDATE connections SET renewable = $1 WHERE id = $2 AND renewable IS NULL`, renewable, u.conn.ID)
			}
		}
		if batch.Len() > 0 {
			if err := p.pool.SendBatch(ctx, batch).Close(); err != nil {
				return fail(err)
			}
		}
		after = found[len(found)-1].conn.ID
	}
}

// RecordCheck records a health check; see Inventory.
func (p *Postgres) RecordCheck(ctx context.Context, id string, at time.Time, checkError string) error {
	if !validConnectionID(id) {
		return fmt.Errorf("store: record health check of connection %s: %w", id, ErrNotFound)
	}
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		var prevChecked pgtype.Timestamptz
		var prevError, projectID string
		err := tx.QueryRow(ctx, `SELECT last_checked_at, check_error, project_id FROM connections WHERE id = $1 FOR UPDATE`, id).Scan(&prevChecked, &prevError, &projectID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET last_checked_at = $1, check_error = $2,
			last_check_ok_at = CASE WHEN $2 = '' THEN $1 ELSE last_check_ok_at END WHERE id = $3`, pgMillis(at), checkError, id); err != nil {
			return err
		}
		if !p.wantsOutbox(projectID) {
			return nil
		}
		c, err := p.scanOne(tx.QueryRow(ctx, pgByID, id))
		if err != nil {
			return err
		}
		return p.outbox(ctx, tx, Change{Op: ChangeChecked, Connection: withoutSecrets(c),
			PreviousCheckedAt: pgTime(prevChecked), PreviousCheckError: prevError})
	})
	if err != nil {
		return fmt.Errorf("store: record health check of connection %s: %w", id, err)
	}
	return nil
}
