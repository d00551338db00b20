// Package reload keeps the gateway's catalog in step with the manifest
// folder: it rescans on file events (debounced), on a periodic check, and on
// demand, builds a whole new catalog and swaps it atomically.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/manifest"
)

// Timing of file-event handling. A burst of events (an editor's
// write-rename-chmod, a ConfigMap swap) becomes one rescan Debounce after the
// last event, and at most MaxDelay after the first.
const (
	DefaultDebounce     = 40 * time.Millisecond
	DefaultMaxDelay     = 200 * time.Millisecond
	DefaultPollInterval = 10 * time.Second
)

// Reloader owns the current catalog.
type Reloader struct {
	Dir          string
	Options      manifest.Options
	Log          *slog.Logger
	Metrics      *metrics.Metrics
	Debounce     time.Duration
	MaxDelay     time.Duration
	PollInterval time.Duration // safety net for missed events; 0 disables
	// Extra are manifests that are not files of Dir (dev mode's demo
	// integrations, embedded in the binary), already parsed; every reload
	// serves them besides the folder's, and a folder file with one of
	// their ids is rejected.
	Extra []manifest.FileResult

	current atomic.Pointer[manifest.Catalog]
	mu      sync.Mutex // serialises reloads
	last    Report
	files   map[string]bool // files with metric series
	stamp   string          // fingerprint of the folder at the last reload
	warned  map[string]bool // warnings logged, by located text: each is logged once while it lasts
	swapped []func(*manifest.Catalog)
}

// Report describes one reload.
type Report struct {
	Trigger  string            `json:"trigger"`
	At       time.Time         `json:"at"`
	Duration time.Duration     `json:"durationNanos"`
	Success  bool              `json:"success"`
	Revision string            `json:"revision"`
	Changes  manifest.Changes  `json:"changes"`
	Problems manifest.Problems `json:"problems"`
	Error    string            `json:"error,omitempty"`
}

// Catalog returns the catalog being served; nil before the first load.
func (r *Reloader) Catalog() *manifest.Catalog { return r.current.Load() }

// OnSwap adds f to the functions called after each catalog swap, with the
// new catalog. f is called with reloads held off: it must not block or
// reload.
func (r *Reloader) OnSwap(f func(*manifest.Catalog)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.swapped = append(r.swapped, f)
}

// LastReport returns the report of the latest reload.
func (r *Reloader) LastReport() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Reload rescans the folder now and swaps in the new catalog. A folder that
// cannot be read keeps the current catalog.
func (r *Reloader) Reload(trigger string) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	rep := Report{Trigger: trigger, At: start}
	prev := r.current.Load()
	stamp, _ := fingerprint(r.Dir)
	res, err := manifest.LoadPaths([]string{r.Dir}, r.Options)
	if err != nil {
		rep.Error = err.Error()
		rep.Duration = time.Since(start)
		r.finish(&rep, nil)
		r.Log.Error("manifest reload failed; still serving the previous catalog", "trigger", trigger, "error", err)
		return rep
	}
	res = manifest.Merge(r.Extra, res)
	next := manifest.NewCatalog(res, prev, start)
	r.current.Store(next)
	r.stamp = stamp
	rep.Duration = time.Since(start)
	rep.Revision = next.Revision()
	rep.Changes = manifest.Diff(prev, next)
	rep.Problems = res.Problems()
	rep.Success = !rep.Problems.HasErrors(false)
	r.finish(&rep, next)
	r.logReport(rep, prev == nil)
	for _, f := range r.swapped {
		f(next)
	}
	return rep
}

func (r *Reloader) finish(rep *Report, cat *manifest.Catalog) {
	r.last = *rep
	m := r.Metrics
	if m == nil {
		return
	}
	m.ReloadDuration.Observe(rep.Duration.Seconds())
	if rep.Success {
		m.ReloadsTotal.WithLabelValues("success").Inc()
		m.LastReloadSuccessful.Set(1)
		m.LastReloadSuccessSeconds.Set(float64(rep.At.UnixNano()) / 1e9)
	} else {
		m.ReloadsTotal.WithLabelValues("error").Inc()
		m.LastReloadSuccessful.Set(0)
	}
	if cat == nil {
		return
	}
	m.IntegrationsLoaded.Set(float64(cat.Len()))
	m.CatalogInfo.Reset()
	m.CatalogInfo.WithLabelValues(cat.Revision()).Set(1)
	seen := map[string]bool{}
	for _, e := range append(append([]*manifest.Entry(nil), cat.Entries()...), cat.WorkflowEntries()...) {
		name := filepath.Base(e.Path)
		seen[name] = true
		valid := 0.0
		if e.Status == manifest.StatusOK {
			valid = 1
		}
		m.FileValid.WithLabelValues(name).Set(valid)
		m.FileErrors.WithLabelValues(name).Set(float64(len(e.Problems.Errors())))
	}
	for name := range r.files {
		if !seen[name] {
			m.FileValid.DeleteLabelValues(name)
			m.FileErrors.DeleteLabelValues(name)
		}
	}
	r.files = seen
}

func (r *Reloader) logReport(rep Report, first bool) {
	fresh, total := r.freshWarnings(rep.Problems)
	ch := rep.Changes
	if !first && ch.Empty() && len(fresh) == 0 {
		r.Log.Debug("manifest reload: no change", "trigger", rep.Trigger, "revision", short(rep.Revision))
		return
	}
	level := slog.LevelInfo
	if !rep.Success {
		level = slog.LevelWarn
	}
	r.Log.Log(context.Background(), level, "manifests reloaded",
		"trigger", rep.Trigger,
		"revision", short(rep.Revision),
		"integrations", r.current.Load().Len(),
		"added", ch.Added, "updated", ch.Updated, "removed", ch.Removed, "rejected", ch.Rejected,
		"workflows", len(r.current.Load().Workflows()),
		"workflows_added", ch.Workflows.Added, "workflows_updated", ch.Workflows.Updated, "workflows_removed", ch.Workflows.Removed,
		"duration_ms", float64(rep.Duration.Microseconds())/1000)
	for _, p := range rep.Problems {
		if p.Severity == manifest.Error {
			r.Log.Warn("manifest problem", "problem", p.String())
		}
	}
	for _, p := range fresh {
		r.Log.Debug("manifest warning", "problem", p.String())
	}
	if len(fresh) > 0 {
		r.Log.Info("manifests have warnings: `plugboard validate "+r.Dir+"` lists them (so do GET /admin/v1/integrations and --log-level debug)",
			"warnings", total, "new", len(fresh))
	}
}

// freshWarnings returns the warnings among probs not logged before, and
// how many warnings there are. A warning is logged once while it lasts, not
// after every reload; one that goes away and comes back is new again.
func (r *Reloader) freshWarnings(probs manifest.Problems) (fresh manifest.Problems, total int) {
	now := map[string]bool{}
	for _, p := range probs {
		if p.Severity != manifest.Warning {
			continue
		}
		key := p.String()
		if !r.warned[key] && !now[key] {
			fresh = append(fresh, p)
		}
		now[key] = true
	}
	r.warned = now
	return fresh, len(now)
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// Start watches the folder and reloads on changes until ctx ends. It
// watches the folder itself (not single files), so in-place writes,
// rename-over saves, new and deleted files and Kubernetes ConfigMap symlink
// swaps all count. Changes made after Start returns are always seen.
func (r *Reloader) Start(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", r.Dir, err)
	}
	// Resolve the folder before watching it: a git-sync or ConfigMap swap
	// landing between the two is then seen as a change of target by the
	// loop, instead of leaving the watch on the old folder.
	watched, _ := filepath.EvalSymlinks(r.Dir)
	if err := w.Add(r.Dir); err != nil {
		_ = w.Close() // the Add error is the one to report
		return fmt.Errorf("watching %s: %w", r.Dir, err)
	}
	// Catch what changed between the last load and the watch.
	if stamp, err := fingerprint(r.Dir); err == nil && stamp != r.stampNow() {
		r.Reload("watch started")
	}
	go func() {
		defer func() { _ = w.Close() }() // the watch is over either way
		if err := r.watch(ctx, w, watched, w.Events, w.Errors); err != nil {
			r.Log.Error("manifest watcher stopped; reload with SIGHUP or POST /admin/v1/reload", "error", err)
		}
	}()
	return nil
}

// folderWatch is what the watch loop does with its *fsnotify.Watcher besides
// reading its channels; tests drive the loop with a fake inside a synctest
// bubble, where a real watcher's blocking reads cannot run.
type folderWatch interface {
	Add(name string) error
	Remove(name string) error
}

// watch runs the watch loop; watched is the folder r.Dir resolved to when
// the watch was added.
func (r *Reloader) watch(ctx context.Context, w folderWatch, watched string, events <-chan fsnotify.Event, errs <-chan error) error {
	debounce, maxDelay := r.Debounce, r.MaxDelay
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	var poll <-chan time.Time
	if r.PollInterval > 0 {
		t := time.NewTicker(r.PollInterval)
		defer t.Stop()
		poll = t.C
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time // first event of the pending burst; zero when none
	fire := func() {
		first = time.Time{}
		r.Reload("file change")
		// The folder itself may have been replaced (a symlinked folder swapped
		// by git-sync): follow it.
		if now, err := filepath.EvalSymlinks(r.Dir); err == nil && now != watched {
			_ = w.Remove(watched)
			if err := w.Add(r.Dir); err == nil {
				watched = now
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return errors.New("file watcher closed")
			}
			if !relevant(ev.Name) {
				continue
			}
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			wait := debounce
			if deadline := first.Add(maxDelay).Sub(now); deadline < wait {
				wait = max(deadline, 0)
			}
			timer.Reset(wait)
		case err, ok := <-errs:
			if !ok {
				return errors.New("file watcher closed")
			}
			r.Log.Warn("file watcher error; the periodic check still reloads", "error", err)
		case <-timer.C:
			fire()
		case <-poll:
			if stamp, err := fingerprint(r.Dir); err == nil && stamp != r.stampNow() {
				r.Reload("periodic check")
			}
		}
	}
}

func (r *Reloader) stampNow() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stamp
}

// relevant reports whether an event can change the catalog: manifests, icons
// and secret files beside them, and Kubernetes' ..data swap. Editor swap and
// backup files are ignored.
func relevant(name string) bool {
	base := filepath.Base(name)
	if base == "..data" {
		return true
	}
	return !strings.HasSuffix(base, "~") && !strings.HasSuffix(base, ".swp") && !strings.HasSuffix(base, ".swx") && !strings.HasPrefix(base, ".#") && base != "4913"
}

// fingerprint summarises the folder's files (name, size, modification time,
// following symlinks) so the periodic check can tell whether anything changed.
func fingerprint(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s:%d:%d", e.Name(), fi.Size(), fi.ModTime().UnixNano()))
	}
	sort.Strings(parts)
	return strings.Join(parts, "|"), nil
}
