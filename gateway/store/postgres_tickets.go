package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PutTicket stores a single-use record until expires, sealed with the same
// associated data as SQLite's. Expired tickets of every kind are swept on
// the way.
func (p *Postgres) PutTicket(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	sealed := p.kr.Seal(value, ticketAAD(kind, key))
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM tickets WHERE expires_at < $1`, time.Now()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO tickets (kind, key, value, expires_at) VALUES ($1, $2, $3, $4)`,
			kind, key, sealed, pgMillis(expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put %s ticket: %w", kind, err)
	}
	return nil
}

// TakeTicket returns a ticket's value and deletes it in one statement
// (DELETE … RETURNING), so that of concurrent takers, in any process,
// exactly one gets it. An expired or unknown ticket is ErrNotFound.
func (p *Postgres) TakeTicket(ctx context.Context, kind, key string) ([]byte, error) {
	var sealed string
	var expires time.Time
	err := p.pool.QueryRow(ctx, `DELETE FROM tickets WHERE kind = $1 AND key = $2 RETURNING value, expires_at`,
		kind, key).Scan(&sealed, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: take %s ticket: %w", kind, err)
	}
	if time.Now().After(expires) {
		return nil, ErrNotFound
	}
	value, err := p.kr.Open(sealed, ticketAAD(kind, key))
	if err != nil {
		return nil, fmt.Errorf("store: take %s ticket: %w", kind, err)
	}
	return value, nil
}

// PeekTicket returns a ticket's value without using it up. An expired or
// unknown ticket is ErrNotFound.
func (p *Postgres) PeekTicket(ctx context.Context, kind, key string) ([]byte, error) {
	var sealed string
	var expires time.Time
	err := p.pool.QueryRow(ctx, `SELECT value, expires_at FROM tickets WHERE kind = $1 AND key = $2`, kind, key).Scan(&sealed, &expires)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && time.Now().After(expires)) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: peek %s ticket: %w", kind, err)
	}
	value, err := p.kr.Open(sealed, ticketAAD(kind, key))
	if err != nil {
		return nil, fmt.Errorf("store: peek %s ticket: %w", kind, err)
	}
	return value, nil
}
