package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

func ticketAAD(kind, key string) []byte { return []byte("ticket\x00" + kind + "\x00" + key) }

// PutTicket stores a single-use record until expires, sealed. Expired
// tickets of every kind are swept on the way.
func (s *SQLite) PutTicket(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	sealed := s.kr.Seal(value, ticketAAD(kind, key))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM tickets WHERE expires_at < ?`, time.Now().UnixMilli()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tickets (kind, key, value, expires_at) VALUES (?, ?, ?, ?)`,
			kind, key, sealed, expires.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put %s ticket: %w", kind, err)
	}
	return nil
}

// TakeTicket returns a ticket's value and deletes it in one step, so that
// of two concurrent takers exactly one gets it. An expired or unknown ticket
// is ErrNotFound.
func (s *SQLite) TakeTicket(ctx context.Context, kind, key string) ([]byte, error) {
	var sealed string
	var expires int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `DELETE FROM tickets WHERE kind = ? AND key = ? RETURNING value, expires_at`, kind, key).Scan(&sealed, &expires)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: take %s ticket: %w", kind, err)
	}
	if time.Now().UnixMilli() > expires {
		return nil, ErrNotFound
	}
	value, err := s.kr.Open(sealed, ticketAAD(kind, key))
	if err != nil {
		return nil, fmt.Errorf("store: take %s ticket: %w", kind, err)
	}
	return value, nil
}

// PeekTicket returns a ticket's value without using it up. An expired or
// unknown ticket is ErrNotFound.
func (s *SQLite) PeekTicket(ctx context.Context, kind, key string) ([]byte, error) {
	var sealed string
	var expires int64
	err := s.r.QueryRowContext(ctx, `SELECT value, expires_at FROM tickets WHERE kind = ? AND key = ?`, kind, key).Scan(&sealed, &expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && time.Now().UnixMilli() > expires) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: peek %s ticket: %w", kind, err)
	}
	value, err := s.kr.Open(sealed, ticketAAD(kind, key))
	if err != nil {
		return nil, fmt.Errorf("store: peek %s ticket: %w", kind, err)
	}
	return value, nil
}
