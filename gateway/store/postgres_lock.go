package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/plugboardhq/plugboard/gateway/connection"
)

// WithLock runs fn holding connection id's refresh lock, which excludes
// every other holder in every process sharing the database; see
// SQLite.WithLock for what fn gets and what is written.
//
// The lock is a session-level advisory lock, pg_advisory_lock(class,
// hashtext(id)), rather than a row lock (SELECT … FOR UPDATE): a row lock
// needs a transaction open while fn waits on a token endpoint, and would
// block every other writer of the row (Update, SetDefault, Rotate)
// meanwhile; the advisory lock blocks only other WithLock callers. It goes
// with the session: if this process dies or its connection breaks, the
// server ends the session and releases the lock, and the dead holder's
// write, which would have gone through that connection, cannot happen.
//
// The session is a connection of a pool of its own (see Postgres), so that
// refreshes waiting on slow token endpoints never hold the connections that
// reads need. Callers in this process first queue for id in memory, so that
// waiters do not each hold a connection. The connection is re-read once the
// lock is held, and fn's result is written through the same session with
// Update's version check (which catches a writer that did not take the
// lock). A waiter whose ctx ends gives up at once: the server is asked to
// cancel its wait.
func (p *Postgres) WithLock(ctx context.Context, id string, fn func(current *connection.Connection) (*connection.Connection, error)) (*connection.Connection, error) {
	if !validConnectionID(id) {
		return nil, fmt.Errorf("store: lock connection %s: %w", id, ErrNotFound)
	}
	unlock, err := p.locks.lock(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("store: waiting for the lock of connection %s: %w", id, err)
	}
	defer unlock()
	held, err := p.lockRefresh(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("store: waiting for the lock of connection %s: %w", id, err)
	}
	defer held.release()

	current, err := p.scanOne(held.conn.QueryRow(ctx, pgByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: lock connection %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: lock connection %s: %w", id, err)
	}
	next, err := fn(current)
	if err != nil {
		return nil, err
	}
	if next == nil {
		return current, nil
	}
	if next.ID != id {
		return nil, fmt.Errorf("store: lock connection %s: fn returned connection %q instead", id, next.ID)
	}
	if err := p.update(ctx, held.conn, next); err != nil {
		return nil, err
	}
	return next, nil
}

// refreshLock is a held WithLock lock: the pooled connection whose session
// holds it.
type refreshLock struct {
	conn *pgxpool.Conn
	id   string
}

// lockRefresh takes a connection of the lock pool and waits on it for id's
// lock.
func (p *Postgres) lockRefresh(ctx context.Context, id string) (*refreshLock, error) {
	conn, err := p.lockPool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, pgLockRefresh, id); err != nil {
		// Most likely the wait was cancelled. Whether the server granted
		// the lock just before is not certain: ending the session
		// releases it either way.
		destroyConn(conn)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return &refreshLock{conn: conn, id: id}, nil
}

// release unlocks and returns the connection to the pool. A connection
// that cannot confirm the unlock (it broke, or the caller's cancellation
// reached it late) is closed instead, which releases the lock too: a
// pooled connection must never keep a lock.
func (l *refreshLock) release() {
	ctx, cancel := context.WithTimeout(context.Background(), pgCleanupTimeout)
	defer cancel()
	var released bool
	err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, pgLockRefresh, l.id).Scan(&released)
	if err != nil || !released {
		destroyConn(l.conn)
		return
	}
	l.conn.Release()
}
