//go:build unix

package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/manifest"
)

// TestReloadSurvivesUnboundedFiles: files dropped into a watched folder
// that are FIFOs, links to /dev/zero or huge (as manifests, icons or
// secret files) are rejected on their own when the watcher reloads; the
// reload finishes and the gateway keeps serving the other integrations.
func TestReloadSurvivesUnboundedFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "alpha.yaml"), testManifest("alpha", "alpha v0"))
	g := startGateway(t, dir, manifest.Options{ResolveSecrets: true})

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o600))
	must(os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")))
	f, err := os.Create(filepath.Join(dir, "huge.yaml"))
	must(err)
	must(f.Truncate(1 << 30))
	_ = f.Close()
	must(syscall.Mkfifo(filepath.Join(dir, "icon.svg"), 0o600))
	must(syscall.Mkfifo(filepath.Join(dir, "secret.txt"), 0o600))
	icon := strings.Replace(testManifest("bravo", "bravo v0"), "icon: '<svg", "icon: icon.svg\n#'<svg", 1)
	writeFile(t, filepath.Join(dir, "bravo.yaml"), icon)
	secret := testManifest("charlie", "charlie v0") + "  headers:\n    X-Partner: ${file:secret.txt}\n"
	writeFile(t, filepath.Join(dir, "charlie.yaml"), secret)
	writeFile(t, filepath.Join(dir, "delta.yaml"), testManifest("delta", "delta v0"))

	want := map[string]string{
		"fifo.yaml": "not a regular file", "zero.yaml": "not a regular file", "huge.yaml": "more than the 262144 allowed",
		"bravo.yaml": "cannot read icon file icon.svg: not a regular file", "charlie.yaml": "cannot read secret file secret.txt: not a regular file",
	}
	testfix.Eventually(t, "the reload that sees every file", func() bool {
		d, code := g.description("delta")
		return code == 200 && d == "delta v0"
	})
	cat := g.adminFiles()
	seen := 0
	for _, f := range cat.Files {
		text, ok := want[filepath.Base(f.File)]
		if !ok {
			continue
		}
		seen++
		if f.Status != manifest.StatusRejected || len(f.Problems.Errors()) != 1 || !strings.Contains(f.Problems.Errors()[0].Message, text) {
			t.Errorf("%s: want rejected with %q, got %s %v", f.File, text, f.Status, f.Problems)
		}
	}
	if seen != len(want) {
		t.Errorf("the admin API lists %d of the %d hostile files: %+v", seen, len(want), cat.Files)
	}
	if d, code := g.description("alpha"); code != 200 || d != "alpha v0" {
		t.Errorf("alpha: %d %q", code, d)
	}
	// And again on demand: the reload returns, still serving the others.
	if rep := g.srv.Reloader().Reload("test"); rep.Error != "" || g.srv.Reloader().Catalog().Len() != 2 {
		t.Errorf("reload: %+v, %d integrations", rep, g.srv.Reloader().Catalog().Len())
	}
}
