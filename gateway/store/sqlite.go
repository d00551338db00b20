package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/plugboardhq/plugboard/gateway/seal"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// SQLite is the embedded Store: one database file, one process.
//
// Writes go through a single connection (SQLite has one writer at a time
// anyway, and waiting in Go is cheaper than spinning on SQLITE_BUSY); reads
// go through a small pool of read-only connections, which WAL lets run
// while a write is in progress.
//
// WithLock's lock is a mutex in this process: two processes serving from
// one SQLite file do not exclude each other's refreshes. Several replicas
// need PostgreSQL.
type SQLite struct {
	path  string
	kr    *seal.Keyring
	w     *sql.DB // exactly one connection; every transaction is BEGIN IMMEDIATE
	r     *sql.DB // query_only connections
	stmts sqliteStatements
	locks lockTable
	// outbox, if set, sees every write of a connection in its
	// transaction, of the projects outboxWants reports (nil: all).
	outbox      SQLiteOutbox
	outboxWants func(projectID string) bool

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQLite)(nil)

// sqliteOptions are the tuning knobs that OpenSQLite fixes; tests and
// benchmarks vary them.
type sqliteOptions struct {
	// readers is the size of the read pool. 0 sends reads through the
	// writer connection.
	readers int
	// busyTimeout is how long a statement waits for another process's
	// lock before failing with SQLITE_BUSY.
	busyTimeout time.Duration
}

var defaultSQLiteOptions = sqliteOptions{
	// One reader per CPU, at least 2 and at most 4. Measured on 2 CPUs with
	// 16 concurrent readers (BenchmarkDefaultLookupParallel): 2-4 readers
	// read about 1.5x faster than reads sharing the writer's connection,
	// with a lower p50 and p99; 8 readers raised the p99 without adding
	// throughput. Beyond that the pool also keeps reads from queueing
	// behind a long write (a Rotate batch, a checkpoint's fsync).
	readers:     min(max(runtime.GOMAXPROCS(0), 2), 4),
	busyTimeout: 5 * time.Second,
}

// OpenSQLite opens (creating if needed) the database file at path, brings
// its schema up to date and returns the store. A new file is created
// readable by its owner only. kr encrypts and decrypts credentials.
func OpenSQLite(ctx context.Context, path string, kr *seal.Keyring) (*SQLite, error) {
	return openSQLite(ctx, path, kr, defaultSQLiteOptions)
}

func openSQLite(ctx context.Context, path string, kr *seal.Keyring, opt sqliteOptions) (*SQLite, error) {
	if kr == nil {
		return nil, errors.New("store: open SQLite: no keyring (set PLUGBOARD_ENCRYPTION_KEYS)")
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: open SQLite: %q is not a file path (in-memory and URI databases are not supported)", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	// Create the file ourselves so that it is private; SQLite gives the
	// -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite: %w", err)
	}
	_ = f.Close()

	s := &SQLite{path: abs, kr: kr}
	s.w, err = openSQLitePool(abs, 1, opt.busyTimeout, false)
	if err != nil {
		return nil, err
	}
	if err := s.checkWAL(ctx); err != nil {
		_ = s.w.Close()
		return nil, err
	}
	if _, err := migrateSQLite(ctx, s.w, abs); err != nil {
		_ = s.w.Close()
		return nil, err
	}
	s.r = s.w
	if opt.readers > 0 {
		s.r, err = openSQLitePool(abs, opt.readers, opt.busyTimeout, true)
		if err != nil {
			_ = s.w.Close()
			return nil, err
		}
	}
	if err := s.prepare(ctx); err != nil {
		_ = s.closePools()
		return nil, err
	}
	if err := s.fillRenewable(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// openSQLitePool opens a pool of n connections that are kept open (closing
// the last one checkpoints the WAL, and reopening costs a schema parse).
func openSQLitePool(abs string, n int, busy time.Duration, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// NORMAL in WAL mode: a power loss may lose the last commits but
		// never corrupts the database.
		q.Add("_pragma", "synchronous(NORMAL)")
		// Take the write lock at BEGIN, so that a transaction that reads
		// then writes never fails half-way with SQLITE_BUSY.
		q.Set("_txlock", "immediate")
	}
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", abs, err)
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// checkWAL fails if the file could not be put in WAL mode, which SQLite
// reports by keeping the old mode rather than by an error (it happens on
// filesystems without shared memory, such as most network filesystems).
func (s *SQLite) checkWAL(ctx context.Context) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("store: open SQLite %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: open SQLite %s: journal mode is %q, not WAL; is the file on a network filesystem? Put it on a local disk", s.path, mode)
	}
	return nil
}

// Path is the database file's absolute path.
func (s *SQLite) Path() string { return s.path }

// Close closes the database. Later calls do nothing.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		if err := errors.Join(s.stmts.close(), s.closePools()); err != nil {
			s.closeErr = fmt.Errorf("store: close SQLite %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

func (s *SQLite) closePools() error {
	var errs []error
	if s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	return errors.Join(append(errs, s.w.Close())...)
}

// inTx runs fn in a write transaction and commits it if fn succeeds.
func (s *SQLite) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
