package reload

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
)

// These tests run the watch loop inside a synctest bubble, where time only
// moves when every goroutine waits: a burst of events and its debounce play
// out to the nanosecond, with no sleeping and no flakiness. Events come from
// a fake watcher; the real fsnotify path is covered by the gateway's reload
// tests.

func manifestVersion(v int) string {
	return fmt.Sprintf(`id: acme
name: Acme
description: version %d
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: https://api.acme.example.com
  authorization:
    type: bearer
    token: "{{inputs.api_key}}"
  testEndpoint: /me
`, v)
}

// reloads records the trigger and time of every reload, from the log.
type reloads struct {
	mu  sync.Mutex
	got []reloadSeen
}

type reloadSeen struct {
	trigger string
	at      time.Time
}

func (l *reloads) Enabled(context.Context, slog.Level) bool { return true }
func (l *reloads) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *reloads) WithGroup(string) slog.Handler            { return l }
func (l *reloads) Handle(_ context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "trigger" && a.Value.String() != "test setup" {
			l.mu.Lock()
			l.got = append(l.got, reloadSeen{a.Value.String(), rec.Time})
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *reloads) list() []reloadSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]reloadSeen(nil), l.got...)
}

// fakeWatch stands in for the fsnotify watcher.
type fakeWatch struct {
	events chan fsnotify.Event
	errs   chan error
	mu     sync.Mutex
	calls  []string
}

func (f *fakeWatch) Add(name string) error    { f.record("add " + name); return nil }
func (f *fakeWatch) Remove(name string) error { f.record("remove " + name); return nil }
func (f *fakeWatch) record(s string)          { f.mu.Lock(); f.calls = append(f.calls, s); f.mu.Unlock() }

// watched is a loaded Reloader whose watch loop runs on a fake watcher
// until the test ends.
type watched struct {
	*Reloader
	t     *testing.T
	fake  *fakeWatch
	seen  *reloads
	start time.Time
}

// startWatched must run inside a synctest bubble.
func startWatched(t *testing.T, dir string, configure func(*Reloader)) *watched {
	t.Helper()
	seen := &reloads{}
	r := &Reloader{Dir: dir, Log: slog.New(seen), Debounce: 40 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
	if configure != nil {
		configure(r)
	}
	if rep := r.Reload("test setup"); !rep.Success {
		t.Fatalf("first load: %+v", rep)
	}
	fake := &fakeWatch{events: make(chan fsnotify.Event), errs: make(chan error)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	target, _ := filepath.EvalSymlinks(r.Dir)
	go func() { done <- r.watch(ctx, fake, target, fake.events, fake.errs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
	synctest.Wait() // the loop has resolved the folder and waits for events
	return &watched{Reloader: r, t: t, fake: fake, seen: seen, start: time.Now()}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// change writes version v of the manifest and sends the file's event.
func (w *watched) change(v int) {
	w.t.Helper()
	path := filepath.Join(w.Dir, "acme.yaml")
	writeFile(w.t, path, manifestVersion(v))
	w.fake.events <- fsnotify.Event{Name: path, Op: fsnotify.Write}
}

// description is the served manifest's description.
func (w *watched) description() string {
	in, ok := w.Catalog().Lookup("acme")
	if !ok {
		return "(acme not served)"
	}
	return in.Description
}

// reloadedAt lists the reloads since the loop started, as offsets from its start.
func (w *watched) reloadedAt(trigger string) []time.Duration {
	var out []time.Duration
	for _, r := range w.seen.list() {
		if r.trigger == trigger {
			out = append(out, r.at.Sub(w.start))
		}
	}
	return out
}

func (w *watched) wantReloads(when string, trigger string, want ...time.Duration) {
	w.t.Helper()
	synctest.Wait()
	if got := w.reloadedAt(trigger); fmt.Sprint(got) != fmt.Sprint(want) {
		w.t.Errorf("%s: %q reloads at %v, want at %v", when, trigger, got, want)
	}
}

func TestDebounceBurstBecomesOneReloadOfTheLatestState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "acme.yaml"), manifestVersion(1))
		w := startWatched(t, dir, nil)
		for v := 2; v <= 5; v++ { // events at 0, 10, 20 and 30ms
			w.change(v)
			time.Sleep(10 * time.Millisecond)
		}
		w.wantReloads("during the burst", "file change")
		time.Sleep(29 * time.Millisecond)
		w.wantReloads("1ms before the debounce ends", "file change")
		if got := w.description(); got != "version 1" {
			t.Errorf("before the reload, serving %q", got)
		}
		time.Sleep(time.Millisecond)
		w.wantReloads("debounce after the last event", "file change", 70*time.Millisecond)
		if got := w.description(); got != "version 5" {
			t.Errorf("after the burst, serving %q, want the latest (version 5)", got)
		}
		time.Sleep(time.Second)
		w.wantReloads("a second later", "file change", 70*time.Millisecond)
	})
}

// Events that never pause for the debounce still reload MaxDelay after the
// first one, and the next burst starts a new window.
func TestDebounceMaxDelayBoundsAContinuousStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "acme.yaml"), manifestVersion(1))
		w := startWatched(t, dir, nil)
		for v := 0; v < 10; v++ { // every 30ms from 0 to 270ms, under the 40ms debounce
			w.change(v)
			time.Sleep(30 * time.Millisecond)
		}
		time.Sleep(time.Second)
		// first burst: 0..180ms, cut at 200ms; second: 210..270ms, +40ms
		w.wantReloads("after the stream", "file change", 200*time.Millisecond, 310*time.Millisecond)
		if got := w.description(); got != "version 9" {
			t.Errorf("serving %q, want version 9", got)
		}
	})
}

func TestIrrelevantEventsDoNotReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "acme.yaml"), manifestVersion(1))
		w := startWatched(t, dir, nil)
		for _, name := range []string{".acme.yaml.swp", "acme.yaml~", ".#acme.yaml", "4913"} {
			w.fake.events <- fsnotify.Event{Name: filepath.Join(dir, name), Op: fsnotify.Create}
		}
		time.Sleep(time.Second)
		w.wantReloads("editor files only", "file change")
	})
}

// The poll interval rescans a folder whose change produced no event, and
// leaves an unchanged folder alone.
func TestPollIntervalCatchesMissedEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "acme.yaml"), manifestVersion(1))
		w := startWatched(t, dir, func(r *Reloader) { r.PollInterval = 10 * time.Second })
		time.Sleep(10 * time.Second)
		w.wantReloads("first check, nothing changed", "periodic check")
		writeFile(t, filepath.Join(dir, "acme.yaml"), manifestVersion(22)) // no event
		time.Sleep(10*time.Second - time.Millisecond)
		w.wantReloads("before the second check", "periodic check")
		time.Sleep(time.Millisecond)
		w.wantReloads("second check", "periodic check", 20*time.Second)
		if got := w.description(); got != "version 22" {
			t.Errorf("serving %q, want version 22", got)
		}
		time.Sleep(10 * time.Second)
		w.wantReloads("third check, nothing changed", "periodic check", 20*time.Second)
	})
}

// A folder replaced by a symlink swap (git-sync) is watched again where it
// now points.
func TestWatchFollowsASwappedFolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := t.TempDir()
		for _, d := range []string{"rev1", "rev2"} {
			if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(root, "rev1", "acme.yaml"), manifestVersion(1))
		writeFile(t, filepath.Join(root, "rev2", "acme.yaml"), manifestVersion(2))
		link := filepath.Join(root, "current")
		if err := os.Symlink("rev1", link); err != nil {
			t.Fatal(err)
		}
		w := startWatched(t, link, nil)
		if err := os.Symlink("rev2", link+".new"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(link+".new", link); err != nil {
			t.Fatal(err)
		}
		w.fake.events <- fsnotify.Event{Name: link, Op: fsnotify.Create}
		time.Sleep(time.Second)
		w.wantReloads("after the swap", "file change", 40*time.Millisecond)
		if got := w.description(); got != "version 2" {
			t.Errorf("serving %q, want version 2", got)
		}
		w.fake.mu.Lock()
		defer w.fake.mu.Unlock()
		rev1, _ := filepath.EvalSymlinks(filepath.Join(root, "rev1"))
		if want := []string{"remove " + rev1, "add " + link}; fmt.Sprint(w.fake.calls) != fmt.Sprint(want) {
			t.Errorf("watcher calls %q, want %q", w.fake.calls, want)
		}
	})
}

// A watcher error is logged and the loop goes on.
func TestWatcherErrorKeepsWatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "acme.yaml"), manifestVersion(1))
		w := startWatched(t, dir, nil)
		w.fake.errs <- fsnotify.ErrEventOverflow
		w.change(2)
		time.Sleep(time.Second)
		w.wantReloads("after an error and an event", "file change", 40*time.Millisecond)
	})
}
