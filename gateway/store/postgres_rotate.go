package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/plugboardhq/plugboard/gateway/connection"
)

// Rotate re-seals, with the keyring's current key, every credential sealed
// with another key, then the unexpired tickets, rotateBatch rows per
// transaction, and returns how many rows it rewrote; see SQLite.Rotate for
// what it guarantees. Every replica must have the new key first.
//
// Each batch locks its rows (FOR UPDATE) between reading and rewriting
// them, so that a write racing with the rotation is neither lost nor
// overwritten with the older content; such a write seals with the current
// key anyway. Several replicas may rotate at once: a row is rewritten
// once, by whichever gets it first.
func (p *Postgres) Rotate(ctx context.Context) (int, error) {
	prefix := p.kr.CurrentPrefix()
	total := 0
	fail := func(err error) (int, error) {
		return total, fmt.Errorf("store: rotate encryption key (%d rows rewritten so far): %w", total, err)
	}
	// A v4 UUID is never the nil UUID: the walk starts before every id.
	for after := "00000000-0000-0000-0000-000000000000"; after != ""; {
		n, last, err := p.rotateConnections(ctx, prefix, after)
		total += n
		if err != nil {
			return fail(err)
		}
		after = last
	}
	var after *ticketID
	for {
		n, last, err := p.rotateTickets(ctx, prefix, after)
		total += n
		if err != nil {
			return fail(err)
		}
		if last == nil {
			break
		}
		after = last
	}
	return total, nil
}

// rotateConnections rewrites up to rotateBatch stale rows with id > after,
// in id order, and returns how many it rewrote and the last id it read
// ("" when there were none: the walk is over). Walking by id makes one
// pass over the table, whatever fails or races. A batch may come back
// short, when rows it waited for were rotated by another replica
// meanwhile: the walk goes on until a batch is empty.
func (p *Postgres) rotateConnections(ctx context.Context, prefix, after string) (n int, last string, err error) {
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, project_id, user_id, integration_id, credential
			FROM connections
			WHERE id > $1 AND NOT starts_with(credential, $2)
			ORDER BY id LIMIT $3
			FOR UPDATE`, after, prefix, rotateBatch)
		if err != nil {
			return err
		}
		type staleRow struct {
			c      connection.Connection
			sealed string
		}
		batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (staleRow, error) {
			var r staleRow
			err := row.Scan(&r.c.ID, &r.c.ProjectID, &r.c.UserID, &r.c.IntegrationID, &r.sealed)
			return r, err
		})
		if err != nil || len(batch) == 0 {
			return err
		}
		updates := &pgx.Batch{}
		for _, r := range batch {
			if err := openCredential(p.kr, &r.c, r.sealed); err != nil {
				return err
			}
			sealed, err := sealCredential(p.kr, &r.c)
			if err != nil {
				return err
			}
			updates.Queue(`UPDATE connections SET credential = $1 WHERE id = $2`, sealed, r.c.ID)
		}
		if err := tx.SendBatch(ctx, updates).Close(); err != nil {
			return fmt.Errorf("rewriting connections: %w", err)
		}
		n, last = len(batch), batch[len(batch)-1].c.ID
		return nil
	})
	if err != nil {
		return 0, "", err
	}
	return n, last, nil
}

// ticketID is a ticket's primary key.
type ticketID struct{ kind, key string }

// rotateTickets re-seals up to rotateBatch unexpired tickets sealed with
// another key, after after (nil: from the first) in key order, and returns
// how many it rewrote and the last key it read (nil when there were none).
// Expired tickets are never opened again: they are left for PutTicket's sweep.
func (p *Postgres) rotateTickets(ctx context.Context, prefix string, after *ticketID) (n int, last *ticketID, err error) {
	var afterKind, afterKey *string
	if after != nil {
		afterKind, afterKey = &after.kind, &after.key
	}
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT kind, key, value FROM tickets
			WHERE ($1::text IS NULL OR (kind, key) > ($1, $2::text))
				AND expires_at >= $3 AND NOT starts_with(value, $4)
			ORDER BY kind, key LIMIT $5
			FOR UPDATE`, afterKind, afterKey, time.Now(), prefix, rotateBatch)
		if err != nil {
			return err
		}
		type staleTicket struct {
			id     ticketID
			sealed string
		}
		batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (staleTicket, error) {
			var t staleTicket
			err := row.Scan(&t.id.kind, &t.id.key, &t.sealed)
			return t, err
		})
		if err != nil || len(batch) == 0 {
			return err
		}
		updates := &pgx.Batch{}
		for _, t := range batch {
			aad := ticketAAD(t.id.kind, t.id.key)
			pt, err := p.kr.Open(t.sealed, aad)
			if err != nil {
				return fmt.Errorf("opening %s ticket: %w", t.id.kind, err)
			}
			sealed := p.kr.Seal(pt, aad)
			clear(pt)
			updates.Queue(`UPDATE tickets SET value = $1 WHERE kind = $2 AND key = $3`, sealed, t.id.kind, t.id.key)
		}
		if err := tx.SendBatch(ctx, updates).Close(); err != nil {
			return fmt.Errorf("rewriting tickets: %w", err)
		}
		n, last = len(batch), &batch[len(batch)-1].id
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return n, last, nil
}
