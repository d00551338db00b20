package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/plugboardhq/plugboard/gateway/connection"
)

// ChangeOp is what a write did to a connection.
type ChangeOp string

const (
	ChangeCreated ChangeOp = "created"
	ChangeUpdated ChangeOp = "updated" // Update, and WithLock's write
	ChangeDeleted ChangeOp = "deleted"
	// ChangeChecked: RecordCheck recorded a health check.
	ChangeChecked ChangeOp = "checked"
)

// Change describes one write of a connection to an outbox, inside the
// write's transaction. It never carries the credential.
type Change struct {
	Op ChangeOp
	// Connection is the connection as written (Created, Updated) or as it
	// was (Deleted: only its ids are known). Credential is always zero.
	Connection connection.Connection
	// PreviousStatus and PreviousLastRefreshAt are the row's before an
	// Update (zero otherwise): what changed tells a failed refresh (the
	// status became needs_reconnect) from a reconnect (a new credential
	// stored without a refresh).
	PreviousStatus        connection.Status
	PreviousLastRefreshAt time.Time
	// PreviousCheckedAt and PreviousCheckError are the health check
	// before a RecordCheck (ChangeChecked only): whether the connection's
	// health changed.
	PreviousCheckedAt  time.Time
	PreviousCheckError string
}

// SQLiteOutbox records a change in the SQLite transaction that makes it
// (River's riversqlite driver enqueues a job on tx). An error rolls the
// change back.
type SQLiteOutbox func(ctx context.Context, tx *sql.Tx, ch Change) error

// PostgresOutbox records a change in the PostgreSQL transaction that makes
// it. An error rolls the change back.
type PostgresOutbox func(ctx context.Context, tx pgx.Tx, ch Change) error

// SetOutbox makes every later Create, Update, Delete and WithLock write
// call fn inside its transaction. Call it before the store is shared.
func (s *SQLite) SetOutbox(fn SQLiteOutbox) { s.outbox = fn }

// SetOutbox makes every later Create, Update, Delete and WithLock write
// call fn inside its transaction. Call it before the store is shared.
func (p *Postgres) SetOutbox(fn PostgresOutbox) { p.outbox = fn }

// SetOutboxWants makes the outbox see only the writes of projects for
// which wants returns true: the others take the plain path, without the
// outbox's transaction and reads (a gateway whose writes nothing
// consumes pays nothing for them). wants is asked at each write, so what
// it reports may change (a reload adds a webhook consumer). Call it
// before the store is shared; nil: every write.
func (s *SQLite) SetOutboxWants(wants func(projectID string) bool) { s.outboxWants = wants }

// SetOutboxWants is SQLite.SetOutboxWants.
func (p *Postgres) SetOutboxWants(wants func(projectID string) bool) { p.outboxWants = wants }

// wantsOutbox reports whether a write of the project goes to the outbox.
func (s *SQLite) wantsOutbox(projectID string) bool {
	return s.outbox != nil && (s.outboxWants == nil || s.outboxWants(projectID))
}

func (p *Postgres) wantsOutbox(projectID string) bool {
	return p.outbox != nil && (p.outboxWants == nil || p.outboxWants(projectID))
}

// DB is the SQLite writer pool (one connection): River's riversqlite driver
// shares it, so that its jobs commit with the store's writes.
func (s *SQLite) DB() *sql.DB { return s.w }

// Pool is the PostgreSQL pool, for River's riverpgxv5 driver.
func (p *Postgres) Pool() *pgxpool.Pool { return p.pool }

// withoutSecrets is c with its credential dropped, for an outbox.
func withoutSecrets(c *connection.Connection) connection.Connection {
	n := *c
	n.Credential = connection.Credential{}
	return n
}
