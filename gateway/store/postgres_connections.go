package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/plugboardhq/plugboard/gateway/connection"
)

// The statements of the hot paths. pgx prepares each once per pooled
// connection and reuses it (its default statement cache).
const (
	pgSelectConnection = `SELECT ` + selectColumns + ` FROM connections`
	pgGet              = pgSelectConnection + ` WHERE id = $1 AND project_id = $2 AND user_id = $3`
	pgDefault          = pgSelectConnection + ` WHERE project_id = $1 AND user_id = $2 AND integration_id = $3 AND is_default`
	pgByID             = pgSelectConnection + ` WHERE id = $1`
	// pgUpdate writes and announces in one statement (one round trip, one
	// implicit transaction); a row that does not match announces nothing.
	pgUpdate = `WITH updated AS (
		UPDATE connections
		SET status = $1, credential = $2, expires_at = $3, last_error = $4, updated_at = $5,
			last_refresh_at = $12, renewable = $13, version = version + 1
		WHERE id = $6 AND project_id = $7 AND user_id = $8 AND integration_id = $9 AND version = $10
		RETURNING 1)
	SELECT pg_notify('` + notifyChannel + `', $11) FROM updated`
)

// Create inserts c; see SQLite.Create, which it matches. Creates for one
// user serialise (lockOwner), so that of concurrent first connections
// exactly one becomes the default.
func (p *Postgres) Create(ctx context.Context, c *connection.Connection) error {
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
	n.ExpiresAt = pgMillis(n.ExpiresAt)
	n.LastRefreshAt, n.LastUsedAt = pgMillis(n.LastRefreshAt), pgMillis(n.LastUsedAt)
	sealed, err := sealCredential(p.kr, &n)
	if err != nil {
		return fmt.Errorf("store: create connection: %w", err)
	}

	err = p.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockOwner(ctx, tx, n.ProjectID, n.UserID); err != nil {
			return err
		}
		if n.IsDefault {
			if _, err := tx.Exec(ctx, `UPDATE connections SET is_default = false, updated_at = $1
				WHERE project_id = $2 AND user_id = $3 AND integration_id = $4 AND is_default`,
				now, n.ProjectID, n.UserID, n.IntegrationID); err != nil {
				return err
			}
		} else {
			var hasDefault bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM connections
				WHERE project_id = $1 AND user_id = $2 AND integration_id = $3 AND is_default)`,
				n.ProjectID, n.UserID, n.IntegrationID).Scan(&hasDefault); err != nil {
				return err
			}
			n.IsDefault = !hasDefault
		}
		if _, err := tx.Exec(ctx, `INSERT INTO connections (`+connectionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			n.ID, n.ProjectID, n.UserID, n.IntegrationID, n.IsDefault, string(n.Status),
			sealed, pgNullTime(n.ExpiresAt), n.LastError, n.CreatedAt, n.UpdatedAt, n.Version,
			pgNullTime(n.LastRefreshAt), pgNullTime(n.LastUsedAt), n.Credential.Renewable()); err != nil {
			return err
		}
		if p.wantsOutbox(n.ProjectID) {
			if err := p.outbox(ctx, tx, Change{Op: ChangeCreated, Connection: withoutSecrets(&n)}); err != nil {
				return err
			}
		}
		return notify(ctx, tx, n.ProjectID, n.UserID, n.IntegrationID)
	})
	if err != nil {
		if isPgUniqueViolation(err, "connections_pkey") {
			return fmt.Errorf("store: create connection: id %s already exists", n.ID)
		}
		return fmt.Errorf("store: create connection for user %q in project %q: %w", n.UserID, n.ProjectID, err)
	}
	*c = n
	return nil
}

// Get returns one connection of a user.
func (p *Postgres) Get(ctx context.Context, projectID, userID, id string) (*connection.Connection, error) {
	notFound := func() error {
		return fmt.Errorf("store: connection %s of user %q in project %q: %w", id, userID, projectID, ErrNotFound)
	}
	if !validConnectionID(id) { // the uuid column would refuse it with a syntax error
		return nil, notFound()
	}
	c, err := p.scanOne(p.pool.QueryRow(ctx, pgGet, id, projectID, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("store: get connection %s: %w", id, err)
	}
	return c, nil
}

// Default returns the user's default connection for an integration.
func (p *Postgres) Default(ctx context.Context, projectID, userID, integrationID string) (*connection.Connection, error) {
	c, err := p.scanOne(p.pool.QueryRow(ctx, pgDefault, projectID, userID, integrationID))
	if errors.Is(err, pgx.ErrNoRows) {
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
func (p *Postgres) List(ctx context.Context, projectID, userID string) ([]*connection.Connection, error) {
	rows, err := p.pool.Query(ctx, pgSelectConnection+` WHERE project_id = $1 AND user_id = $2 ORDER BY created_at, seq`,
		projectID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list connections of user %q in project %q: %w", userID, projectID, err)
	}
	defer rows.Close()
	var cs []*connection.Connection
	for rows.Next() {
		c, err := p.scanOne(rows)
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
func (p *Postgres) Count(ctx context.Context, projectID, userID, integrationID string) (int, error) {
	q, args := `SELECT count(*) FROM connections WHERE project_id = $1 AND user_id = $2`, []any{projectID, userID}
	if integrationID != "" {
		q, args = q+` AND integration_id = $3`, append(args, integrationID)
	}
	var n int
	if err := p.pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count connections of user %q in project %q: %w", userID, projectID, err)
	}
	return n, nil
}

// Update writes c's status, credential, expiry, last error and last
// refresh if c.Version
// is still the stored version; see SQLite.Update, which it matches.
func (p *Postgres) Update(ctx context.Context, c *connection.Connection) error {
	return p.update(ctx, p.pool, c)
}

// update is Update on q: the pool, or the connection holding WithLock's lock.
func (p *Postgres) update(ctx context.Context, q pgQuerier, c *connection.Connection) error {
	if c == nil {
		return errors.New("store: update connection: connection is nil")
	}
	if err := validateStatus(c.Status); err != nil {
		return fmt.Errorf("store: update connection %s: %w", c.ID, err)
	}
	if !validConnectionID(c.ID) {
		return fmt.Errorf("store: update connection %s of user %q in project %q (integration %q): %w",
			c.ID, c.UserID, c.ProjectID, c.IntegrationID, ErrNotFound)
	}
	sealed, err := sealCredential(p.kr, c)
	if err != nil {
		return fmt.Errorf("store: update connection %s: %w", c.ID, err)
	}
	now := nowMillis()
	expires, refreshed := pgMillis(c.ExpiresAt), pgMillis(c.LastRefreshAt)
	notice := changeNotice{ProjectID: c.ProjectID, UserID: c.UserID, IntegrationID: c.IntegrationID}
	exec := func(q pgQuerier) (int64, error) {
		tag, err := q.Exec(ctx, pgUpdate, string(c.Status), sealed, pgNullTime(expires), c.LastError, now,
			c.ID, c.ProjectID, c.UserID, c.IntegrationID, c.Version, notice.payload(), pgNullTime(refreshed), c.Credential.Renewable())
		return tag.RowsAffected(), err
	}
	var n int64
	if !p.wantsOutbox(c.ProjectID) {
		n, err = exec(q)
	} else {
		n, err = p.updateWithOutbox(ctx, q, c, now, exec)
	}
	if err != nil {
		return fmt.Errorf("store: update connection %s: %w", c.ID, err)
	}
	if n == 0 {
		return p.whyNotUpdated(ctx, q, c)
	}
	c.Version++
	c.UpdatedAt = now
	c.ExpiresAt, c.LastRefreshAt = expires, refreshed
	return nil
}

// updateWithOutbox runs exec (the update) in a transaction on q with the
// outbox call, which sees the status and last refresh from before the update.
func (p *Postgres) updateWithOutbox(ctx context.Context, q pgQuerier, c *connection.Connection, now time.Time, exec func(pgQuerier) (int64, error)) (int64, error) {
	db, ok := q.(interface {
		Begin(context.Context) (pgx.Tx, error)
	})
	if !ok {
		return 0, fmt.Errorf("store: %T cannot begin a transaction", q)
	}
	var n int64
	err := runTx(ctx, db, func(tx pgx.Tx) error {
		var prevStatus string
		var prevRefresh *time.Time
		err := tx.QueryRow(ctx, `SELECT status, last_refresh_at FROM connections WHERE id = $1 FOR UPDATE`, c.ID).Scan(&prevStatus, &prevRefresh)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // n = 0: whyNotUpdated says why
		}
		if err != nil {
			return err
		}
		if n, err = exec(tx); err != nil || n == 0 {
			return err
		}
		written := withoutSecrets(c)
		written.Version, written.UpdatedAt = c.Version+1, now
		written.ExpiresAt, written.LastRefreshAt = pgMillis(c.ExpiresAt), pgMillis(c.LastRefreshAt)
		ch := Change{Op: ChangeUpdated, Connection: written, PreviousStatus: connection.Status(prevStatus)}
		if prevRefresh != nil {
			ch.PreviousLastRefreshAt = prevRefresh.UTC()
		}
		return p.outbox(ctx, tx, ch)
	})
	return n, err
}

// whyNotUpdated tells a missing row from a stale version.
func (p *Postgres) whyNotUpdated(ctx context.Context, q pgQuerier, c *connection.Connection) error {
	var stored int64
	err := q.QueryRow(ctx, `SELECT version FROM connections
		WHERE id = $1 AND project_id = $2 AND user_id = $3 AND integration_id = $4`,
		c.ID, c.ProjectID, c.UserID, c.IntegrationID).Scan(&stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("store: update connection %s of user %q in project %q (integration %q): %w",
			c.ID, c.UserID, c.ProjectID, c.IntegrationID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: update connection %s: %w", c.ID, err)
	default:
		return fmt.Errorf("store: update connection %s: read at version %d, stored version is %d: %w",
			c.ID, c.Version, stored, ErrConflict)
	}
}

// SetDefault makes id the user's default for its integration, without
// bumping Version; see SQLite.SetDefault.
func (p *Postgres) SetDefault(ctx context.Context, projectID, userID, id string) error {
	notFound := fmt.Errorf("connection %s of user %q in project %q: %w", id, userID, projectID, ErrNotFound)
	if !validConnectionID(id) {
		return fmt.Errorf("store: set default connection %s: %w", id, notFound)
	}
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockOwner(ctx, tx, projectID, userID); err != nil {
			return err
		}
		var integrationID string
		var isDefault bool
		err := tx.QueryRow(ctx, `SELECT integration_id, is_default FROM connections
			WHERE id = $1 AND project_id = $2 AND user_id = $3`, id, projectID, userID).Scan(&integrationID, &isDefault)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound
		}
		if err != nil || isDefault {
			return err
		}
		now := nowMillis()
		if _, err := tx.Exec(ctx, `UPDATE connections SET is_default = false, updated_at = $1
			WHERE project_id = $2 AND user_id = $3 AND integration_id = $4 AND is_default`,
			now, projectID, userID, integrationID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET is_default = true, updated_at = $1 WHERE id = $2`, now, id); err != nil {
			return err
		}
		return notify(ctx, tx, projectID, userID, integrationID)
	})
	if err != nil {
		return fmt.Errorf("store: set default connection %s: %w", id, err)
	}
	return nil
}

// Delete removes a connection; if it was the default, the user's oldest
// remaining connection for the integration becomes the default.
func (p *Postgres) Delete(ctx context.Context, projectID, userID, id string) error {
	notFound := fmt.Errorf("connection %s of user %q in project %q: %w", id, userID, projectID, ErrNotFound)
	if !validConnectionID(id) {
		return fmt.Errorf("store: delete connection %s: %w", id, notFound)
	}
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockOwner(ctx, tx, projectID, userID); err != nil {
			return err
		}
		var integrationID, status string
		var wasDefault bool
		err := tx.QueryRow(ctx, `DELETE FROM connections WHERE id = $1 AND project_id = $2 AND user_id = $3
			RETURNING integration_id, is_default, status`, id, projectID, userID).Scan(&integrationID, &wasDefault, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound
		}
		if err != nil {
			return err
		}
		if p.wantsOutbox(projectID) {
			if err := p.outbox(ctx, tx, Change{Op: ChangeDeleted, Connection: connection.Connection{ID: id,
				ProjectID: projectID, UserID: userID, IntegrationID: integrationID, Status: connection.Status(status)}}); err != nil {
				return err
			}
		}
		if wasDefault {
			if _, err := tx.Exec(ctx, `UPDATE connections SET is_default = true, updated_at = $1
				WHERE id = (SELECT id FROM connections
					WHERE project_id = $2 AND user_id = $3 AND integration_id = $4
					ORDER BY created_at, seq LIMIT 1)`,
				nowMillis(), projectID, userID, integrationID); err != nil {
				return err
			}
		}
		return notify(ctx, tx, projectID, userID, integrationID)
	})
	if err != nil {
		return fmt.Errorf("store: delete connection %s: %w", id, err)
	}
	return nil
}

// scanOne reads one row of connectionColumns and decrypts its credential.
func (p *Postgres) scanOne(row rowScanner) (*connection.Connection, error) {
	var (
		c               connection.Connection
		status, sealed  string
		expires         pgtype.Timestamptz
		refreshed, used pgtype.Timestamptz
		renewable       pgtype.Bool
		checked, okAt   pgtype.Timestamptz
	)
	if err := row.Scan(&c.ID, &c.ProjectID, &c.UserID, &c.IntegrationID, &c.IsDefault, &status,
		&sealed, &expires, &c.LastError, &c.CreatedAt, &c.UpdatedAt, &c.Version, &refreshed, &used, &renewable,
		&checked, &okAt, &c.CheckError); err != nil {
		return nil, err
	}
	c.LastCheckedAt, c.LastCheckOKAt = pgTime(checked), pgTime(okAt)
	c.Status = connection.Status(status)
	c.ExpiresAt, c.LastRefreshAt, c.LastUsedAt = pgTime(expires), pgTime(refreshed), pgTime(used)
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	if err := openCredential(p.kr, &c, sealed); err != nil {
		return nil, err
	}
	return &c, nil
}

// pgMillis is t as stored: UTC, whole milliseconds (as SQLite stores it,
// although timestamptz keeps microseconds), zero for zero.
func pgMillis(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// pgTime reads a nullable timestamptz: NULL is the zero time.
func pgTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// pgNullTime stores the zero time as NULL.
func pgNullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func isPgUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == constraint
}
