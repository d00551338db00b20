package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

// Benchmark data: benchRows connections, benchIntegrations per user.
const (
	benchRows         = 10_000
	benchIntegrations = 5
	benchUsers        = benchRows / benchIntegrations
)

// seedSQLite opens a store with opt and inserts benchRows connections in
// one transaction (Create would take a transaction each).
func seedSQLite(b *testing.B, opt sqliteOptions) *SQLite {
	b.Helper()
	s, err := openSQLite(b.Context(), filepath.Join(b.TempDir(), "bench.db"), mustKeyring(b, "k:"+keyAStd), opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	now := toMillis(nowMillis())
	err = s.inTx(b.Context(), func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(b.Context(), `INSERT INTO connections (`+connectionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range benchRows {
			c := benchConnection(i/benchIntegrations, i%benchIntegrations)
			c.ID = newConnectionID()
			sealed, err := sealCredential(s.kr, c)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(b.Context(), c.ID, c.ProjectID, c.UserID, c.IntegrationID, true,
				string(connection.StatusValid), sealed, nullMillis(c.ExpiresAt), "", now, now, 1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchConnection(user, integration int) *connection.Connection {
	return &connection.Connection{
		ProjectID:     "project-1",
		UserID:        fmt.Sprintf("user-%05d", user),
		IntegrationID: fmt.Sprintf("integration-%d", integration),
		Credential: connection.Credential{
			AccessToken:  "gho_" + fmt.Sprintf("%036d", user),
			RefreshToken: "ghr_" + fmt.Sprintf("%076d", user),
			TokenType:    "bearer",
			Inputs:       map[string]string{"subdomain": "acme"},
		},
		ExpiresAt: time.Now().Add(time.Hour),
	}
}

func benchDefault(b *testing.B, s *SQLite, i int) {
	u := i % benchUsers
	c, err := s.Default(context.Background(), "project-1", fmt.Sprintf("user-%05d", u), fmt.Sprintf("integration-%d", i%benchIntegrations))
	if err != nil {
		b.Fatal(err)
	}
	if c.Credential.AccessToken == "" {
		b.Fatal("empty credential")
	}
}

// BenchmarkDefaultLookup: one Default (the proxy's per-request read) at a
// time, on 10,000 connections.
func BenchmarkDefaultLookup(b *testing.B) {
	s := seedSQLite(b, defaultSQLiteOptions)
	i := 0
	for b.Loop() {
		benchDefault(b, s, i*7919)
		i++
	}
}

// BenchmarkDefaultLookupParallel compares read pool sizes with 16
// concurrent readers, with and without a writer busy at the same time (a
// token refresh storm), and reports read latency percentiles. readers=0
// sends reads through the writer connection.
func BenchmarkDefaultLookupParallel(b *testing.B) {
	for _, writing := range []bool{false, true} {
		for _, readers := range []int{0, 1, 2, 4, 8} {
			b.Run(fmt.Sprintf("writing=%v/readers=%d", writing, readers), func(b *testing.B) {
				opt := defaultSQLiteOptions
				opt.readers = readers
				s := seedSQLite(b, opt)
				var writes atomic.Int64
				stop := make(chan struct{})
				var wg sync.WaitGroup
				if writing {
					wg.Go(func() { benchWriteUntil(b, s, stop, &writes) })
				}
				var (
					n         atomic.Int64
					mu        sync.Mutex
					latencies []time.Duration
				)
				b.SetParallelism(8)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					var local []time.Duration
					for pb.Next() {
						start := time.Now()
						benchDefault(b, s, int(n.Add(1))*7919)
						local = append(local, time.Since(start))
					}
					mu.Lock()
					latencies = append(latencies, local...)
					mu.Unlock()
				})
				b.StopTimer()
				close(stop)
				wg.Wait()
				slices.Sort(latencies)
				b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
				if writing {
					b.ReportMetric(float64(writes.Load())/b.Elapsed().Seconds(), "writes/s")
				}
			})
		}
	}
}

// benchWriteUntil updates connections back to back until stop is closed.
func benchWriteUntil(b *testing.B, s *SQLite, stop <-chan struct{}, writes *atomic.Int64) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		u := (i * 31) % benchUsers
		c, err := s.Default(context.Background(), "project-1", fmt.Sprintf("user-%05d", u), "integration-0")
		if err != nil {
			b.Error(err)
			return
		}
		c.Credential.AccessToken = fmt.Sprintf("refreshed-%d", i)
		if err := s.Update(context.Background(), c); err != nil {
			b.Error(err)
			return
		}
		writes.Add(1)
	}
}

// BenchmarkUpdate: one Update (a token refresh's write: seal + versioned
// UPDATE + commit) at a time.
func BenchmarkUpdate(b *testing.B) {
	s := seedSQLite(b, defaultSQLiteOptions)
	c, err := s.Default(b.Context(), "project-1", "user-00042", "integration-1")
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		c.Credential.AccessToken = fmt.Sprintf("refreshed-%d", i)
		if err := s.Update(b.Context(), c); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkWithLock: an uncontended refresh cycle (lock, read, write).
func BenchmarkWithLock(b *testing.B) {
	s := seedSQLite(b, defaultSQLiteOptions)
	c, err := s.Default(b.Context(), "project-1", "user-00042", "integration-1")
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := s.WithLock(b.Context(), c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
			cur.Credential.AccessToken = fmt.Sprintf("refreshed-%d", i)
			return cur, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotate: re-sealing all 10,000 rows.
func BenchmarkRotate(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := seedSQLite(b, defaultSQLiteOptions)
		s.kr = mustKeyring(b, "new:"+keyBRaw+",k:"+keyAStd)
		b.StartTimer()
		n, err := s.Rotate(b.Context())
		if err != nil || n != benchRows {
			b.Fatalf("Rotate = %d, %v", n, err)
		}
	}
}
