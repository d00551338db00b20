package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/store/storetest"
)

func TestSQLiteOutbox(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T, kr *seal.Keyring, record func(store.Change) error) store.Store {
		s := openSQLite(t, filepath.Join(t.TempDir(), "outbox.db"), kr)
		s.SetOutbox(func(ctx context.Context, tx *sql.Tx, ch store.Change) error {
			if tx == nil {
				t.Error("outbox called without a transaction")
			}
			return record(ch)
		})
		return s
	})
}

func TestPostgresOutbox(t *testing.T) {
	store.PostgresTestServer(t)
	storetest.RunOutbox(t, func(t *testing.T, kr *seal.Keyring, record func(store.Change) error) store.Store {
		p := openPostgres(t, store.PostgresTestDSN(t), kr)
		p.SetOutbox(func(ctx context.Context, tx pgx.Tx, ch store.Change) error {
			if tx == nil {
				t.Error("outbox called without a transaction")
			}
			return record(ch)
		})
		return p
	})
}
