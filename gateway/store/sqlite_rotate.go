package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

// rotateBatch is how many rows Rotate rewrites per transaction: large
// enough to amortise the commit, small enough that other writers wait for
// at most a few milliseconds.
const rotateBatch = 200

// Rotate re-seals, with the keyring's current key, every credential sealed
// with another key, in batches of rotateBatch rows per transaction, then
// the unexpired tickets, and returns how many rows it rewrote. Rotation does not change a
// connection's content, so Version and UpdatedAt are left alone (a
// refresh racing with Rotate does not conflict). Once Rotate returns
// without error, and provided every process writing to the database
// already had the new key first (restart them before rotating), the old
// keys can be removed from PLUGBOARD_ENCRYPTION_KEYS.
//
// A row sealed with a key the keyring lacks stops the rotation with
// ErrKeyUnknown; the batches already committed stay rotated and counted.
func (s *SQLite) Rotate(ctx context.Context) (int, error) {
	prefix := s.kr.CurrentPrefix()
	total, after := 0, ""
	for {
		n, last, err := s.rotateBatch(ctx, prefix, after)
		total += n
		if err != nil {
			return total, fmt.Errorf("store: rotate encryption key (%d rows rewritten so far): %w", total, err)
		}
		if last == "" {
			break
		}
		after = last
	}
	n, err := s.rotateTickets(ctx, prefix)
	total += n
	if err != nil {
		return total, fmt.Errorf("store: rotate encryption key (%d rows rewritten so far): %w", total, err)
	}
	return total, nil
}

// rotateTickets re-seals the unexpired tickets sealed with another key, in
// one transaction: there are few, and they live for minutes. Expired ones
// are never opened again, so they are left for PutTicket's sweep.
func (s *SQLite) rotateTickets(ctx context.Context, prefix string) (n int, err error) {
	type staleTicket struct{ kind, key, sealed string }
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT kind, key, value FROM tickets
			WHERE expires_at >= ? AND substr(value, 1, ?) <> ?`, time.Now().UnixMilli(), len(prefix), prefix)
		if err != nil {
			return err
		}
		var stale []staleTicket
		for rows.Next() {
			var t staleTicket
			if err := rows.Scan(&t.kind, &t.key, &t.sealed); err != nil {
				rows.Close()
				return err
			}
			stale = append(stale, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, t := range stale {
			aad := ticketAAD(t.kind, t.key)
			pt, err := s.kr.Open(t.sealed, aad)
			if err != nil {
				return fmt.Errorf("opening %s ticket: %w", t.kind, err)
			}
			sealed := s.kr.Seal(pt, aad)
			clear(pt)
			if _, err := tx.ExecContext(ctx, `UPDATE tickets SET value = ? WHERE kind = ? AND key = ?`, sealed, t.kind, t.key); err != nil {
				return fmt.Errorf("rewriting %s ticket: %w", t.kind, err)
			}
		}
		n = len(stale)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// rotateBatch rewrites up to rotateBatch stale rows with id > after, in id
// order, and returns how many it rewrote and the last id ("" when done).
// Walking by id makes one pass over the table, whatever fails or races.
func (s *SQLite) rotateBatch(ctx context.Context, prefix, after string) (n int, last string, err error) {
	type staleRow struct {
		c      connection.Connection
		sealed string
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, project_id, user_id, integration_id, credential
			FROM connections
			WHERE id > ? AND substr(credential, 1, ?) <> ?
			ORDER BY id LIMIT ?`, after, len(prefix), prefix, rotateBatch)
		if err != nil {
			return err
		}
		var batch []staleRow
		for rows.Next() {
			var r staleRow
			if err := rows.Scan(&r.c.ID, &r.c.ProjectID, &r.c.UserID, &r.c.IntegrationID, &r.sealed); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		update, err := tx.PrepareContext(ctx, `UPDATE connections SET credential = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer update.Close()
		for _, r := range batch {
			if err := openCredential(s.kr, &r.c, r.sealed); err != nil {
				return err
			}
			sealed, err := sealCredential(s.kr, &r.c)
			if err != nil {
				return err
			}
			if _, err := update.ExecContext(ctx, sealed, r.c.ID); err != nil {
				return fmt.Errorf("rewriting connection %s: %w", r.c.ID, err)
			}
		}
		n = len(batch)
		if n == rotateBatch {
			last = batch[n-1].c.ID
		}
		return nil
	})
	if err != nil {
		return 0, "", err
	}
	return n, last, nil
}
