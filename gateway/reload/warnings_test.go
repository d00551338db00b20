package reload

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plugboardhq/plugboard/manifest"
)

// syncBuffer is a log destination the test reads while reloads write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// take returns what was logged since the last take.
func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

// TestWarningsAreLoggedOnceWhileTheyLast reloads a folder whose manifest
// has an unset secret (a dev-mode warning) again and again, with other
// files changing: the warning and the line saying where to see warnings
// are logged when the warning appears, not after every reload.
func TestWarningsAreLoggedOnceWhileTheyLast(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "acme.yaml"), manifestVersion(1))
	secretive := strings.Replace(manifestVersion(1), "id: acme", "id: secretive", 1)
	secretive = strings.Replace(secretive, "  testEndpoint: /me\n", "  testEndpoint: /me\n  headers:\n    X-Partner-Key: ${RELOAD_TEST_UNSET_PARTNER_KEY}\n", 1)
	writeFile(t, filepath.Join(dir, "secretive.yaml"), secretive)
	logs := &syncBuffer{}
	r := &Reloader{Dir: dir, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Options: manifest.Options{ResolveSecrets: true, AllowUnresolvedSecrets: true}}
	const pointer = "manifests have warnings: `plugboard validate "
	const warning = "RELOAD_TEST_UNSET_PARTNER_KEY is not set"

	r.Reload("startup")
	got := logs.take() // the secret, and each file's missing icon
	if strings.Count(got, pointer) != 1 || strings.Count(got, warning) != 1 || !strings.Contains(got, "warnings=3 new=3") {
		t.Fatalf("startup: want the warning and the pointer once, got\n%s", got)
	}
	if !strings.Contains(got, pointer+dir+"` lists them") {
		t.Errorf("the pointer should name the folder to validate, got\n%s", got)
	}

	// Other files change: the reload is logged, the warning is not again.
	for v := 2; v <= 4; v++ {
		writeFile(t, filepath.Join(dir, "acme.yaml"), manifestVersion(v))
		r.Reload("file change")
		got = logs.take()
		if !strings.Contains(got, "manifests reloaded") || strings.Contains(got, pointer) || strings.Contains(got, warning) {
			t.Fatalf("reload %d: want the reload logged without the old warning, got\n%s", v, got)
		}
	}

	// A new warning is logged (the old one is not), with the total.
	writeFile(t, filepath.Join(dir, "acme.yaml"), strings.Replace(manifestVersion(5), "https://api.acme.example.com", "http://api.acme.example.com", 1))
	r.Reload("file change")
	got = logs.take()
	if strings.Count(got, pointer) != 1 || strings.Contains(got, warning) || !strings.Contains(got, "plain http") || !strings.Contains(got, "warnings=4 new=1") {
		t.Fatalf("a new warning: want it alone, with 4 in all, got\n%s", got)
	}

	// Fixed, then broken again: the warning is new again.
	t.Setenv("RELOAD_TEST_UNSET_PARTNER_KEY", "partner-key")
	r.Reload("SIGHUP")
	got = logs.take()
	if strings.Contains(got, warning) || strings.Contains(got, pointer) {
		t.Fatalf("secret set: want no warning about it, got\n%s", got)
	}
	if err := os.Unsetenv("RELOAD_TEST_UNSET_PARTNER_KEY"); err != nil {
		t.Fatal(err)
	}
	r.Reload("SIGHUP")
	got = logs.take()
	if strings.Count(got, warning) != 1 || !strings.Contains(got, "warnings=4 new=1") {
		t.Fatalf("secret unset again: want the warning logged again, got\n%s", got)
	}
}
