package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/store/storetest"
)

// TestSQLiteListen: SQLite's Listen never calls fn (one process: nothing to
// hear) and returns when its context ends.
func TestSQLiteListen(t *testing.T) {
	var n store.Notifier = openSQLite(t, filepath.Join(t.TempDir(), "p.db"), storetest.Keyring(t, storetest.Key(t, "k1")))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := n.Listen(ctx, func(string, string, string) { t.Error("SQLite's Listen called fn") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Listen = %v, want context.DeadlineExceeded", err)
	}
}
