package store

import (
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestMigratePostgresConcurrently: five replicas (five pools) migrating a
// new schema at the same instant apply each migration exactly once between
// them, and every one of them succeeds.
func TestMigratePostgresConcurrently(t *testing.T) {
	dsn := PostgresTestDSN(t)
	ms, err := loadMigrations(migrationFS, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	const replicas = 5
	pools := make([]*pgxpool.Pool, replicas)
	for i := range pools {
		if pools[i], err = pgxpool.New(t.Context(), dsn); err != nil {
			t.Fatal(err)
		}
		defer pools[i].Close()
		if err := pools[i].Ping(t.Context()); err != nil { // connected before the start line
			t.Fatal(err)
		}
	}
	applied := make([][]int, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, pool := range pools {
		wg.Go(func() {
			<-start
			applied[i], errs[i] = migratePostgres(t.Context(), pool, "test")
		})
	}
	close(start)
	wg.Wait()

	var all []int
	for i := range replicas {
		if errs[i] != nil {
			t.Errorf("replica %d: %v", i, errs[i])
		}
		all = append(all, applied[i]...)
	}
	slices.Sort(all)
	var want []int
	for _, m := range ms {
		want = append(want, m.version)
	}
	if !slices.Equal(all, want) {
		t.Errorf("the replicas applied versions %v between them (%v), want %v, each once", all, applied, want)
	}
}

func TestLoadPostgresMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFS, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].name != "0001_init.sql" {
		t.Errorf("postgres migrations = %v, want 0001_init.sql first", ms)
	}
}
