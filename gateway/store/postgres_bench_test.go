package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/plugboardhq/plugboard/gateway/connection"
)

// seedPostgres opens a store on a fresh schema and inserts benchRows
// connections (as seedSQLite does) with COPY.
func seedPostgres(b *testing.B) *Postgres {
	b.Helper()
	p, err := OpenPostgres(b.Context(), PostgresTestDSN(b), mustKeyring(b, "k:"+keyAStd))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	now := nowMillis()
	rows := make([][]any, 0, benchRows)
	for i := range benchRows {
		c := benchConnection(i/benchIntegrations, i%benchIntegrations)
		c.ID = newConnectionID()
		sealed, err := sealCredential(p.kr, c)
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, []any{c.ID, c.ProjectID, c.UserID, c.IntegrationID, true,
			string(connection.StatusValid), sealed, pgNullTime(pgMillis(c.ExpiresAt)), "", now, now, int64(1)})
	}
	columns := strings.Split(strings.Join(strings.Fields(connectionColumns), ""), ",")
	if _, err := p.pool.CopyFrom(b.Context(), pgx.Identifier{"connections"}, columns, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := p.pool.Exec(b.Context(), "ANALYZE connections"); err != nil {
		b.Fatal(err)
	}
	return p
}

func benchPostgresDefault(b *testing.B, p *Postgres, i int) {
	u := i % benchUsers
	c, err := p.Default(context.Background(), "project-1", fmt.Sprintf("user-%05d", u), fmt.Sprintf("integration-%d", i%benchIntegrations))
	if err != nil {
		b.Fatal(err)
	}
	if c.Credential.AccessToken == "" {
		b.Fatal("empty credential")
	}
}

// BenchmarkPostgresDefaultLookup: one Default (the proxy's per-request
// read: a round trip to the server and a decryption) at a time, on 10,000
// connections.
func BenchmarkPostgresDefaultLookup(b *testing.B) {
	p := seedPostgres(b)
	i := 0
	for b.Loop() {
		benchPostgresDefault(b, p, i*7919)
		i++
	}
}

// BenchmarkPostgresDefaultLookupParallel: 16 concurrent readers on the
// default pool, with read latency percentiles.
func BenchmarkPostgresDefaultLookupParallel(b *testing.B) {
	p := seedPostgres(b)
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
			benchPostgresDefault(b, p, int(n.Add(1))*7919)
			local = append(local, time.Since(start))
		}
		mu.Lock()
		latencies = append(latencies, local...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkPostgresUpdate: one Update (seal, versioned UPDATE and NOTIFY
// in one statement, commit) at a time.
func BenchmarkPostgresUpdate(b *testing.B) {
	p := seedPostgres(b)
	c, err := p.Default(b.Context(), "project-1", "user-00042", "integration-1")
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		c.Credential.AccessToken = fmt.Sprintf("refreshed-%d", i)
		if err := p.Update(b.Context(), c); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPostgresWithLock: an uncontended refresh cycle (advisory lock,
// read, write, unlock: four round trips).
func BenchmarkPostgresWithLock(b *testing.B) {
	p := seedPostgres(b)
	c, err := p.Default(b.Context(), "project-1", "user-00042", "integration-1")
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := p.WithLock(b.Context(), c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
			cur.Credential.AccessToken = fmt.Sprintf("refreshed-%d", i)
			return cur, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPostgresRotate: re-sealing all 10,000 rows.
func BenchmarkPostgresRotate(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		p := seedPostgres(b)
		p.kr = mustKeyring(b, "new:"+keyBRaw+",k:"+keyAStd)
		b.StartTimer()
		n, err := p.Rotate(b.Context())
		if err != nil || n != benchRows {
			b.Fatalf("Rotate = %d, %v", n, err)
		}
	}
}
