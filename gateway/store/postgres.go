package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/plugboardhq/plugboard/gateway/seal"
)

// Postgres is the Store that several gateway replicas share. Every method
// behaves as SQLite's does; what differs is how processes exclude each
// other: WithLock takes a PostgreSQL advisory lock (see postgres_lock.go),
// changes to a user's defaults serialise on a per-user transaction lock,
// and migrations on a per-schema one. Writes announce themselves to the
// other replicas (Listen).
//
// The connection string is pgx's (a postgres:// URL or key=value pairs),
// including the pool settings pool_max_conns (default: the greater of 4 and
// the number of CPUs) and pool_max_conn_lifetime. WithLock holds a
// connection while fn waits on a token endpoint: those connections come
// from a second pool of the same size, so that slow token endpoints never
// leave the proxy's reads waiting for a connection. A replica therefore
// opens up to twice pool_max_conns connections (the second pool's only
// when refreshes run), plus one per Listen. Tables live in the first
// schema of search_path (search_path=plugboard in the connection string
// puts them in their own schema). WithLock and Listen hold session state
// (an advisory lock, a LISTEN), so the gateway must reach PostgreSQL
// directly or through a session-pooling proxy, not a transaction-pooling
// one such as PgBouncer in transaction mode.
type Postgres struct {
	pool *pgxpool.Pool
	// lockPool's connections hold WithLock's locks, one per connection
	// being refreshed.
	lockPool *pgxpool.Pool
	kr       *seal.Keyring
	// name describes the database (host, database, schema) for errors; it
	// never holds a password.
	name string
	// listen configures Listen's dedicated connections.
	listen *pgx.ConnConfig
	// locks makes a process's WithLock callers for one connection queue in
	// memory, so that they take one pooled connection between them instead
	// of one each.
	locks lockTable
	// outbox, if set, sees every write of a connection in its
	// transaction, of the projects outboxWants reports (nil: all).
	outbox      PostgresOutbox
	outboxWants func(projectID string) bool

	closed    chan struct{} // closed by Close: Listen returns
	closeOnce sync.Once
}

var (
	_ Store    = (*Postgres)(nil)
	_ Notifier = (*Postgres)(nil)
)

const (
	// pgCancelGrace is how long a cancelled query (a WithLock waiter
	// whose context ended) waits for the server to confirm the
	// cancellation before the connection is dropped instead.
	pgCancelGrace = 2 * time.Second
	// pgCleanupTimeout bounds the statements that clean up after a failure
	// or a cancellation (releasing a lock, closing a connection), which
	// run even though the caller's context has ended.
	pgCleanupTimeout = 5 * time.Second
)

// OpenPostgres connects to the database dsn names, brings its schema up
// to date (one replica migrates; the others starting at the same time
// wait, then find nothing to do) and returns the store. kr encrypts and
// decrypts credentials; every replica needs the same keys.
func OpenPostgres(ctx context.Context, dsn string, kr *seal.Keyring) (*Postgres, error) {
	if kr == nil {
		return nil, errors.New("store: open PostgreSQL: no keyring (set PLUGBOARD_ENCRYPTION_KEYS)")
	}
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("store: open PostgreSQL: the connection string is empty")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the connection string, redacting passwords
		// only on a best-effort basis: say nothing about its content.
		return nil, errors.New("store: open PostgreSQL: the connection string does not parse; want " +
			"postgres://user:password@host:5432/database?sslmode=verify-full or key=value pairs " +
			"(the parser's details are withheld because they may quote the password)")
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "plugboard" // for pg_stat_activity
	}
	listen := listenConfig(cfg.ConnConfig)
	// Cancel a query whose context ends by asking the server, rather than
	// by dropping the connection (pgx's default): a cancelled WithLock
	// wait then leaves the lock queue at once, instead of lingering in it
	// until the server next writes to the dead connection, and the
	// connection stays in the pool.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: pgCancelGrace}
	}

	lockCfg := cfg.Copy()
	lockCfg.MinConns, lockCfg.MinIdleConns = 0, 0
	lockCfg.MaxConnIdleTime = time.Minute // refreshes come in bursts; do not keep their connections for long

	name := describePostgres(cfg.ConnConfig)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL database %s: %w", name, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open PostgreSQL database %s: %w", name, err)
	}
	if _, err := migratePostgres(ctx, pool, name); err != nil {
		pool.Close()
		return nil, err
	}
	lockPool, err := pgxpool.NewWithConfig(ctx, lockCfg) // connects on first use
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open PostgreSQL database %s: %w", name, err)
	}
	p := &Postgres{pool: pool, lockPool: lockPool, kr: kr, name: name, listen: listen, closed: make(chan struct{})}
	if err := p.fillRenewable(ctx); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// listenConfig is cfg for Listen's connections, which sit idle for hours
// waiting for notifications: TCP keepalives probe them, so that a
// connection silently cut (a NAT or firewall forgetting it, a failover)
// is noticed within 75 seconds and Listen reconnects, instead of
// waiting forever for notifications that no longer come.
func listenConfig(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	listen := cfg.Copy()
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 4,
	}}
	listen.DialFunc = dialer.DialContext
	return listen
}

// describePostgres names the database for errors: database, server and
// schema, never the user's password.
func describePostgres(cfg *pgx.ConnConfig) string {
	server := cfg.Host
	if !strings.HasPrefix(server, "/") {
		server = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	}
	name := fmt.Sprintf("%q on %s", cfg.Database, server)
	if sp := cfg.RuntimeParams["search_path"]; sp != "" {
		name += fmt.Sprintf(" (search_path %s)", sp)
	}
	return name
}

// Close closes the pools, waiting for connections in use to come back
// (a WithLock in progress finishes first), and ends Listen. Later calls
// do nothing.
func (p *Postgres) Close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.lockPool.Close()
		p.pool.Close()
	})
	return nil
}

// inTx runs fn in a transaction and commits it if fn succeeds.
func (p *Postgres) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return runTx(ctx, p.pool, fn)
}

// runTx runs fn in a transaction of db and commits it if fn succeeds. If fn
// fails, the transaction is rolled back (even if ctx has ended) and fn's
// error is returned as is.
func runTx(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, fn func(tx pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pgCleanupTimeout)
		defer cancel()
		_ = tx.Rollback(rctx) // a connection that cannot roll back is closed by pgx
		return err
	}
	return tx.Commit(ctx)
}

// pgQuerier is what the pool, a pooled connection and a transaction have
// in common: statements that can run on any of them take one.
type pgQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// lockOwner serialises, until the end of tx, the transactions that change
// which of a user's connections are defaults: without it, two concurrent
// first connections could both see no default and both become one.
// Different users rarely share a lock (a 32-bit hash of the pair); when
// they do, they just wait for each other.
func lockOwner(ctx context.Context, tx pgx.Tx, projectID, userID string) error {
	key := strconv.Itoa(len(projectID)) + ":" + projectID + userID // unambiguous
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, pgLockOwner, key)
	return err
}

// Advisory lock classes: the first key of PostgreSQL's two-key advisory
// locks, whose key space is apart from the single-bigint one that other
// software sharing the database tends to use.
const (
	pgLockMigrations int32 = 0x706c6d67 // "plmg": migrations of one schema (transaction lock)
	pgLockOwner      int32 = 0x706c6f77 // "plow": a user's defaults (transaction lock)
	pgLockRefresh    int32 = 0x706c7266 // "plrf": WithLock of one connection (session lock)
	pgLockRunStart   int32 = 0x706c7273 // "plrs": workflow run starts of one project (transaction lock)
	pgLockRunQueue   int32 = 0x706c7271 // "plrq": workflow runs queued by one user (transaction lock)
)

// destroyConn closes a pooled connection instead of returning it to the
// pool: the server ends the session, and with it any advisory lock the
// session might still hold.
func destroyConn(c *pgxpool.Conn) {
	conn := c.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), pgCleanupTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}
