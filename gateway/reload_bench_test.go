package gateway

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/manifest"
)

// BenchmarkChangeToLive measures the time from a manifest write to the new
// version being visible over HTTP, through the file watcher, debounce,
// reload and swap, as p50 and p99 in milliseconds. The README's figures
// come from -benchtime=100x (100 edits).
func BenchmarkChangeToLive(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 10; i++ {
		writeFile(b, filepath.Join(dir, fmt.Sprintf("svc%d.yaml", i)), testManifest(fmt.Sprintf("svc%d", i), "v0"))
	}
	g := startGateway(b, dir, manifest.Options{})
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := fmt.Sprintf("v%d", i+1)
		start := time.Now()
		writeFile(b, filepath.Join(dir, "svc3.yaml"), testManifest("svc3", want))
		for {
			if d, _ := g.description("svc3"); d == want {
				break
			}
			if time.Since(start) > 5*time.Second {
				b.Fatalf("edit %d not visible after 5s", i)
			}
			time.Sleep(500 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
}

// BenchmarkReload1000 measures one full rescan, validation and swap of a
// folder of 1,000 manifests.
func BenchmarkReload1000(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 1000; i++ {
		writeFile(b, filepath.Join(dir, fmt.Sprintf("svc%04d.yaml", i)), testManifest(fmt.Sprintf("svc%04d", i), fmt.Sprintf("service %d", i)))
	}
	srv, err := New(Config{ManifestDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if n := srv.Reloader().Catalog().Len(); n != 1000 {
		b.Fatalf("loaded %d integrations, want 1000", n)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rep := srv.Reloader().Reload("benchmark"); !rep.Success {
			b.Fatal(rep.Problems)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
