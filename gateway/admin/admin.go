// Package admin is what operators reach: health and readiness probes,
// Prometheus metrics, and the admin API (the catalog's state, reloads,
// end users' connections) behind the admin bearer token. Connections is
// the Go API of the connection views, for the JSON API and other
// operator surfaces alike.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/gateway/reload"
	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/manifest"
)

// Ops serves the operators' routes.
type Ops struct {
	Token    string // admin bearer token; empty disables the admin API
	Reloader *reload.Reloader
	Metrics  *metrics.Metrics
	// Draining is set when shutdown begins: /readyz then answers 503 so
	// load balancers stop sending traffic before the listener closes.
	Draining *atomic.Bool
	// Connections serves /admin/v1/connections; nil (no store) mounts
	// none of its routes.
	Connections *Connections
	// Webhooks serves /admin/v1/webhooks; nil (no endpoints configured)
	// mounts none of its routes.
	Webhooks Webhooks
	// Workflows serves /admin/v1/workflows and /admin/v1/workflow-runs;
	// nil (no store) mounts none of their routes.
	Workflows Workflows
	Log       *slog.Logger
}

// RegisterProbes mounts /healthz and /readyz.
func (o *Ops) RegisterProbes(mux *routes.Table) {
	mux.HandleFunc("GET /healthz", o.healthz)
	mux.HandleFunc("GET /readyz", o.readyz)
}

// RegisterAdmin mounts /metrics and the admin API.
func (o *Ops) RegisterAdmin(mux *routes.Table) {
	mux.Handle("GET /metrics", o.Metrics.Handler())
	mux.Handle("GET /admin/v1/integrations", o.guard(o.integrations))
	mux.Handle("POST /admin/v1/reload", o.guard(o.reload))
	if o.Connections != nil {
		mux.Handle("GET /admin/v1/connections", o.guard(o.listConnections))
		mux.Handle("GET /admin/v1/connections/{id}", o.guard(o.getConnection))
		mux.Handle("DELETE /admin/v1/connections/{id}", o.guard(o.deleteConnection))
	}
	if o.Webhooks != nil {
		mux.Handle("GET /admin/v1/webhooks/deliveries", o.guard(o.listDeliveries))
		mux.Handle("POST /admin/v1/webhooks/deliveries/{id}/redeliver", o.guard(o.redeliver))
	}
	if o.Workflows != nil {
		mux.Handle("GET /admin/v1/workflows", o.guard(o.listWorkflows))
		mux.Handle("GET /admin/v1/workflow-runs", o.guard(o.listWorkflowRuns))
		mux.Handle("GET /admin/v1/workflow-runs/{id}", o.guard(o.getWorkflowRun))
	}
}

func (o *Ops) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz is ready once a catalog is loaded, and not ready while draining.
func (o *Ops) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case o.Draining != nil && o.Draining.Load():
		apierror.Write(w, apierror.New(http.StatusServiceUnavailable, apierror.NotReady, "shutting down"))
	case o.Reloader.Catalog() == nil:
		apierror.Write(w, apierror.New(http.StatusServiceUnavailable, apierror.NotReady, "no catalog loaded yet"))
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ready\n"))
	}
}

// guard admits requests bearing the admin token.
func (o *Ops) guard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if o.Token == "" {
			apierror.Write(w, apierror.New(http.StatusForbidden, apierror.AdminDisabled, "the admin API is disabled: start the gateway with --admin-token or PLUGBOARD_ADMIN_TOKEN"))
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !SameSecret(strings.TrimSpace(token), o.Token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plugboard-admin"`)
			apierror.Write(w, apierror.New(http.StatusUnauthorized, apierror.Unauthorized, "admin API: send Authorization: Bearer <admin token>"))
			return
		}
		h(w, r)
	})
}

// SameSecret compares a secret a request sent with the expected one in time
// that depends neither on the lengths nor on where the values differ (the
// admin token, here and in the console).
func SameSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// Catalog is the answer of GET /admin/v1/integrations.
type Catalog struct {
	Revision     string        `json:"revision"`
	BuiltAt      time.Time     `json:"builtAt"`
	Integrations int           `json:"integrations"`
	LastReload   reload.Report `json:"lastReload"`
	Files        []File        `json:"files"`
}

// File is one manifest file of Catalog.
type File struct {
	File     string            `json:"file"`
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name,omitempty"`
	AuthType string            `json:"authType,omitempty"`
	Status   manifest.Status   `json:"status"`
	Hash     string            `json:"hash,omitempty"`
	LoadedAt *time.Time        `json:"loadedAt,omitempty"`
	Problems manifest.Problems `json:"problems"`
}

// integrations lists every manifest file: what is served from it (ok),
// whether that is a last good version (stale), or nothing (rejected), with
// the located problems of the file as it is on disk.
func (o *Ops) integrations(w http.ResponseWriter, r *http.Request) {
	cat := o.Reloader.Catalog()
	out := Catalog{Revision: cat.Revision(), BuiltAt: cat.BuiltAt(), Integrations: cat.Len(), LastReload: o.Reloader.LastReport(), Files: []File{}}
	for _, e := range cat.Entries() {
		f := File{File: e.Path, Status: e.Status, Problems: e.Problems}
		if f.Problems == nil {
			f.Problems = manifest.Problems{}
		}
		if in := e.Integration; in != nil {
			loaded := e.LoadedAt
			f.ID, f.Name, f.AuthType, f.Hash, f.LoadedAt = in.ID, in.Name, string(in.Auth.Type), in.Hash, &loaded
		}
		out.Files = append(out.Files, f)
	}
	apierror.JSON(w, http.StatusOK, out)
}

// reload rescans the manifest folder now and answers with the report.
func (o *Ops) reload(w http.ResponseWriter, r *http.Request) {
	rep := o.Reloader.Reload("admin API")
	if rep.Problems == nil {
		rep.Problems = manifest.Problems{}
	}
	apierror.JSON(w, http.StatusOK, rep)
}
