package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/manifest"
)

// manifestGrowthSizes are the folder sizes of the reload benchmarks:
// 10 and 1,000 manifests, and 10,000 with PLUGBOARD_GROWTH=1.
func manifestGrowthSizes() []int {
	return []int{10, 1_000, growthSize(0, 10_000)}
}

func writeServiceFolder(b *testing.B, n int) string {
	dir := b.TempDir()
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("svc%05d.yaml", i))
		writeFile(b, path, testManifest(fmt.Sprintf("svc%05d", i), "v0"))
		// Written a while ago, as a deployed folder is: the reloader then
		// trusts an unchanged stat without reading the file.
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(path, old, old); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkChangeToLive measures the time from a manifest write to the new
// version being visible over HTTP, through the file watcher, debounce,
// reload and swap, as p50 and p99 in milliseconds, with one file edited
// among 10, 1,000 or 10,000. The README's figures come from
// -benchtime=100x (100 edits).
func BenchmarkChangeToLive(b *testing.B) {
	for _, n := range manifestGrowthSizes() {
		if n == 0 {
			continue
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := writeServiceFolder(b, n)
			g := startGateway(b, dir, manifest.Options{})
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				want := fmt.Sprintf("v%d", i+1)
				start := time.Now()
				writeFile(b, filepath.Join(dir, "svc00003.yaml"), testManifest("svc00003", want))
				for {
					if d, _ := g.description("svc00003"); d == want {
						break
					}
					if time.Since(start) > 30*time.Second {
						b.Fatalf("edit %d not visible after 30s", i)
					}
					time.Sleep(500 * time.Microsecond)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
		})
	}
}

// BenchmarkReload measures one reload (rescan, validation, swap) of a
// folder of manifests in which one file changed since the last: the
// reloader's parse cache parses only that one. heap-MB is what the gateway
// holds once it has loaded the folder.
func BenchmarkReload(b *testing.B) {
	for _, n := range manifestGrowthSizes() {
		if n == 0 {
			continue
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := writeServiceFolder(b, n)
			before := heapInUse()
			srv, err := New(Config{ManifestDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			if got := srv.Reloader().Catalog().Len(); got != n {
				b.Fatalf("loaded %d integrations, want %d", got, n)
			}
			heap := float64(heapInUse()-before) / (1 << 20)
			runtime.KeepAlive(srv)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				writeFile(b, filepath.Join(dir, "svc00003.yaml"), testManifest("svc00003", fmt.Sprintf("v%d", i+1)))
				b.StartTimer()
				if rep := srv.Reloader().Reload("benchmark"); !rep.Success || len(rep.Changes.Updated) != 1 {
					b.Fatal(rep.Problems, rep.Changes)
				}
			}
			b.ReportMetric(heap, "heap-MB")
		})
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
