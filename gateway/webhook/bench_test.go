package webhook_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/webhook"
)

// BenchmarkEvents writes b.N connections (each enqueues a
// connection.created delivery in its transaction) and waits until the
// endpoint has received them all: events/s is written and delivered, end
// to end, with the default 10 workers. PostgreSQL runs when
// PLUGBOARD_TEST_POSTGRES is set.
func BenchmarkEvents(b *testing.B) {
	for _, bk := range backends() {
		b.Run(bk.name, func(b *testing.B) {
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			b.Cleanup(srv.Close)
			cfg := fast(webhook.Endpoint{ProjectID: "p1", URL: srv.URL, Secret: []byte("bench-secret-0123456789abcdef")})
			cfg.PollInterval, cfg.Workers = time.Second, benchWorkers // the defaults (Workers: PLUGBOARD_BENCH_WORKERS)
			st, _ := bk.open(b, cfg)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if err := st.Create(b.Context(), newConn("p1", fmt.Sprint("u", i))); err != nil {
					b.Fatal(err)
				}
			}
			written := time.Since(start)
			for got.Load() < int64(b.N) {
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("%d of %d delivered", got.Load(), b.N)
				}
				time.Sleep(5 * time.Millisecond)
			}
			total := time.Since(start)
			b.ReportMetric(float64(b.N)/written.Seconds(), "written/s")
			b.ReportMetric(float64(b.N)/total.Seconds(), "delivered/s")
		})
	}
}

// benchWorkers is Config.Workers in BenchmarkEvents (PLUGBOARD_BENCH_WORKERS).
var benchWorkers = func() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("PLUGBOARD_BENCH_WORKERS"), &n); err != nil || n <= 0 {
		return webhook.DefaultWorkers
	}
	return n
}()
