//go:build unix

package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noHang runs f and fails the test if it does not return: a loader that
// blocks on a FIFO or reads /dev/zero forever would otherwise hang the
// suite until go test's own timeout.
func noHang(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not return: the loader hangs", what)
	}
}

// hostileFiles makes, in dir, each kind of file that must never be read
// whole: a FIFO nobody writes to, a link to /dev/zero, and a (sparse) file
// of a gigabyte. It returns their names by kind.
func hostileFiles(t *testing.T, dir, ext string) map[string]string {
	t.Helper()
	names := map[string]string{"fifo": "fifo" + ext, "zero": "zero" + ext, "huge": "huge" + ext}
	if err := syscall.Mkfifo(filepath.Join(dir, names["fifo"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, names["zero"])); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, names["huge"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return names
}

var hostileWant = map[string]string{"fifo": "not a regular file", "zero": "not a regular file", "huge": "is 1073741824 bytes, more than the"}

// TestLoaderRefusesUnboundedManifests: manifest files that are FIFOs,
// devices or huge are refused one by one; the others in the folder load.
func TestLoaderRefusesUnboundedManifests(t *testing.T) {
	dir := t.TempDir()
	names := hostileFiles(t, dir, ".yaml")
	good, _ := os.ReadFile(filepath.Join("testdata", "good", "basic.yaml"))
	icon, _ := os.ReadFile(filepath.Join("testdata", "good", "acme.svg"))
	writeTestFile(t, filepath.Join(dir, "basic.yaml"), string(good))
	writeTestFile(t, filepath.Join(dir, "acme.svg"), string(icon))
	var res *Result
	noHang(t, "LoadPaths", func() {
		var err error
		res, err = LoadPaths([]string{dir}, Options{})
		if err != nil {
			t.Error(err)
		}
	})
	if res == nil {
		return
	}
	byName := map[string]FileResult{}
	for _, f := range res.Files {
		byName[filepath.Base(f.Path)] = f
	}
	if f := byName["basic.yaml"]; f.Integration == nil {
		t.Errorf("basic.yaml did not load: %v", f.Problems)
	}
	for kind, name := range names {
		f, ok := byName[name]
		if !ok {
			t.Errorf("%s (%s) was not listed", name, kind)
			continue
		}
		if f.Integration != nil || len(f.Problems) != 1 || !strings.Contains(f.Problems[0].Message, hostileWant[kind]) {
			t.Errorf("%s: want one problem %q, got %v", name, hostileWant[kind], f.Problems)
		}
	}
}

// TestLoaderRefusesUnboundedIconsAndSecrets: icon and secret files that are
// FIFOs, links to devices or huge are located errors, not hangs.
func TestLoaderRefusesUnboundedIconsAndSecrets(t *testing.T) {
	dir := t.TempDir()
	icons := hostileFiles(t, dir, ".svg")
	secrets := hostileFiles(t, dir, ".txt")
	// Inside the folder, so that only the kind of file is at fault.
	if err := os.Remove(filepath.Join(dir, icons["zero"])); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, secrets["zero"])); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("fifo.svg", filepath.Join(dir, icons["zero"])); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("fifo.txt", filepath.Join(dir, secrets["zero"])); err != nil {
		t.Fatal(err)
	}
	opts := Options{ResolveSecrets: true, Secrets: SecretResolver{LookupEnv: func(string) (string, bool) { return "v", true }}}
	for kind := range icons {
		path := filepath.Join(dir, "icon-"+kind+".yaml")
		data := strings.Replace(policyManifest("${ACME_CLIENT_ID}"), `icon: <svg xmlns="http://www.w3.org/2000/svg"/>`, "icon: "+icons[kind], 1)
		noHang(t, "icon "+kind, func() {
			in, probs := Parse(path, []byte(data), opts)
			want := "4:7: icon: "
			if in != nil || len(probs) != 1 || !strings.Contains(probs[0].String(), want) || !strings.Contains(probs[0].Message, hostileWant[kind]) {
				t.Errorf("icon %s: want %s…%s, got %v", kind, want, hostileWant[kind], probs)
			}
		})
		for _, dev := range []bool{false, true} {
			opts := opts
			opts.AllowUnresolvedSecrets = dev
			noHang(t, "secret "+kind, func() {
				in, probs := Parse(path, []byte(policyManifest("${file:"+secrets[kind]+"}")), opts)
				errs := probs
				if dev {
					errs = nil
					for _, p := range probs {
						if p.Severity == Warning && p.Path == "auth.oauth2.clientId" {
							errs = append(errs, p)
						}
					}
				} else if in != nil {
					t.Errorf("secret %s: loaded", kind)
				}
				if len(errs) != 1 || errs[0].Line != 10 || errs[0].Column != 15 || !strings.Contains(errs[0].Message, hostileWant[kind]) {
					t.Errorf("secret %s (dev %v): want 10:15: auth.oauth2.clientId: …%s, got %v", kind, dev, hostileWant[kind], probs)
				}
			})
		}
	}
}

// TestConfigRefusesUnboundedFiles: the configuration file, and a secret it
// reads, are held to the same rules.
func TestConfigRefusesUnboundedFiles(t *testing.T) {
	dir := t.TempDir()
	names := hostileFiles(t, dir, ".yaml")
	for kind, name := range names {
		noHang(t, "config "+kind, func() {
			_, probs := LoadConfig(filepath.Join(dir, name), SecretResolver{})
			if len(probs) != 1 || !strings.Contains(probs[0].Message, hostileWant[kind]) {
				t.Errorf("config %s: want %q, got %v", kind, hostileWant[kind], probs)
			}
		})
		noHang(t, "config adminToken "+kind, func() {
			path := filepath.Join(dir, "plugboard-"+kind+".yml")
			writeTestFile(t, path, "adminToken: ${file:"+name+"}\n")
			_, probs := LoadConfig(path, SecretResolver{})
			if len(probs) != 1 || !strings.Contains(probs[0].Message, hostileWant[kind]) {
				t.Errorf("config adminToken %s: want %q, got %v", kind, hostileWant[kind], probs)
			}
		})
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
