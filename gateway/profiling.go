package gateway

import (
	"net/http/pprof"

	"github.com/plugboardhq/plugboard/gateway/routes"
)

// registerProfiles serves Go's runtime profiles on the admin listener, for
// `go tool pprof http://ADMIN/debug/pprof/profile?seconds=30`. The
// command line (/debug/pprof/cmdline) is left out: flags may carry secrets.
func registerProfiles(t *routes.Table) {
	t.HandleFunc("GET /debug/pprof/{$}", pprof.Index)
	t.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	t.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	t.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	// Named profiles: heap, allocs, goroutine, mutex, block, threadcreate.
	t.HandleFunc("GET /debug/pprof/{name}", pprof.Index)
}
