package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

// WithLock runs fn holding connection id's lock, a mutex in this process
// (SQLite serves one process). No transaction is open while fn runs, so a
// token request inside fn does not block other writers; the write of fn's
// result is an Update, whose version check catches a writer that did not
// take the lock.
//
// fn gets the connection as read after the lock was taken. If fn returns
// an error, nothing is written and WithLock returns (nil, that error). If
// it returns nil, nothing is written and WithLock returns the connection
// as read. Otherwise the returned connection (which must have the same ID,
// and normally is current, modified) is written and returned.
func (s *SQLite) WithLock(ctx context.Context, id string, fn func(current *connection.Connection) (*connection.Connection, error)) (*connection.Connection, error) {
	unlock, err := s.locks.lock(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("store: waiting for the lock of connection %s: %w", id, err)
	}
	defer unlock()

	current, err := s.scanOne(s.stmts.byID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	if err := s.Update(ctx, next); err != nil {
		return nil, err
	}
	return next, nil
}
