package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/admin"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/manifest"
)

// testManifest is a small valid manifest whose description marks its version.
func testManifest(id, description string) string {
	return fmt.Sprintf(`id: %s
name: %s
description: %s
icon: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="#123456"/></svg>'
accentColor: "#123456"
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: https://api.%s.example.com/v1
  authorization:
    type: bearer
    token: "{{inputs.api_key}}"
  testEndpoint: /me
`, id, strings.ToUpper(id[:1])+id[1:], description, id)
}

// badManifest fails validation with an error that names marker.
func badManifest(id, marker string) string {
	return testManifest(id, "never served") + marker + ": 1\n"
}

type testGateway struct {
	t      testing.TB
	srv    *Server
	base   string
	admin  string
	client *http.Client
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGateway serves dir on a real loopback listener until the test ends.
func startGateway(t testing.TB, dir string, opts manifest.Options) *testGateway {
	t.Helper()
	logs := &syncBuffer{}
	srv, err := New(Config{
		ManifestDir: dir,
		AdminToken:  "test-admin-token-0123456789",
		Manifest:    opts,
		Log:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Egress:      testEgress(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testGateway{t: t, srv: srv, base: "http://" + ln.Addr().String(), admin: "test-admin-token-0123456789",
		client: &http.Client{Timeout: 10 * time.Second}, logs: logs}
}

func (g *testGateway) get(path string, auth bool) (int, []byte, error) {
	req, _ := http.NewRequest("GET", g.base+path, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer "+g.admin)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (g *testGateway) description(id string) (string, int) {
	code, body, err := g.get("/v1/integrations/"+id, false)
	if err != nil {
		g.t.Fatalf("GET %s: %v", id, err)
	}
	var p integration.Public
	_ = json.Unmarshal(body, &p)
	return p.Description, code
}

func (g *testGateway) adminFiles() admin.Catalog {
	code, body, err := g.get("/admin/v1/integrations", true)
	if err != nil || code != 200 {
		g.t.Fatalf("admin API: %d %v %s", code, err, body)
	}
	var cat admin.Catalog
	if err := json.Unmarshal(body, &cat); err != nil {
		g.t.Fatal(err)
	}
	return cat
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile saves like editors that write a temporary file and rename it over.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// configMap lays out a manifest as Kubernetes does in a ConfigMap volume:
// name -> ..data/name, ..data -> ..<version>, swapped atomically by renaming
// a new symlink over ..data.
type configMap struct {
	dir, name string
	version   int
}

func (c *configMap) publish(t *testing.T, content string) {
	t.Helper()
	c.version++
	vdir := fmt.Sprintf("..2026_11_29_%04d", c.version)
	if err := os.Mkdir(filepath.Join(c.dir, vdir), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.dir, vdir, c.name), content)
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(vdir, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(c.dir, c.name)
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("..data", c.name), link); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReloadUnderLoad rewrites the manifest folder 200 times, with valid and
// invalid edits, rename-over saves, deletes, new files and ConfigMap symlink
// swaps, while clients keep calling the gateway. No request may fail, every
// valid edit must become visible, no invalid one may, and the metrics and
// the admin API must agree at the end.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	ids := []string{"alpha", "bravo", "charlie", "delta"}
	current := map[string]string{} // id -> description being served; absent = deleted
	for _, id := range ids {
		writeFile(t, filepath.Join(dir, id+".yaml"), testManifest(id, id+" v0"))
		current[id] = id + " v0"
	}
	cm := &configMap{dir: dir, name: "echo.yaml"}
	cm.publish(t, testManifest("echo", "echo v0"))
	current["echo"] = "echo v0"
	g := startGateway(t, dir, manifest.Options{})

	// Load: list and per-integration reads, all the time.
	var requests, failures atomic.Int64
	var failMu sync.Mutex
	var failed []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/v1/integrations"
				if i%2 == 1 {
					path = "/v1/integrations/" + ids[(i+w)%len(ids)]
				}
				code, body, err := g.get(path, false)
				requests.Add(1)
				ok := err == nil && (code == 200 || (code == 404 && path != "/v1/integrations"))
				if ok && code == 200 && path == "/v1/integrations" {
					var list struct{ Integrations []integration.Public }
					ok = json.Unmarshal(body, &list) == nil && len(list.Integrations) > 0
				}
				if !ok {
					failures.Add(1)
					failMu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %d %v", path, code, err))
					failMu.Unlock()
				}
			}
		}(w)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	visible := func(id, want string) func() bool {
		return func() bool { d, code := g.description(id); return code == 200 && d == want }
	}
	for op := 1; op <= 200; op++ {
		id := ids[rng.IntN(len(ids))]
		path := filepath.Join(dir, id+".yaml")
		desc := fmt.Sprintf("%s v%d", id, op)
		switch kind := rng.IntN(10); {
		case op%25 == 0: // ConfigMap swap, alternating valid and invalid
			if op%50 == 0 {
				cm.publish(t, badManifest("echo", fmt.Sprintf("bogus_%d", op)))
				waitRejected(t, g, "echo.yaml", fmt.Sprintf("bogus_%d", op))
			} else {
				current["echo"] = fmt.Sprintf("echo v%d", op)
				cm.publish(t, testManifest("echo", current["echo"]))
				testfix.Eventually(t, "configmap swap "+current["echo"], visible("echo", current["echo"]))
			}
			id = "echo"
		case current[id] == "": // deleted earlier: add it back
			writeFile(t, path, testManifest(id, desc))
			current[id] = desc
			testfix.Eventually(t, "re-added "+desc, visible(id, desc))
		case kind < 4:
			writeFile(t, path, testManifest(id, desc))
			current[id] = desc
			testfix.Eventually(t, "in-place edit "+desc, visible(id, desc))
		case kind < 6:
			replaceFile(t, path, testManifest(id, desc))
			current[id] = desc
			testfix.Eventually(t, "rename-over save "+desc, visible(id, desc))
		case kind < 9:
			marker := fmt.Sprintf("bogus_%d", op)
			if kind == 8 {
				replaceFile(t, path, badManifest(id, marker))
			} else {
				writeFile(t, path, badManifest(id, marker))
			}
			waitRejected(t, g, id+".yaml", marker)
		default:
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			delete(current, id)
			testfix.Eventually(t, "delete "+id, func() bool { _, code := g.description(id); return code == 404 })
		}
		// What is served is exactly the last valid version of each file.
		if want := current[id]; want != "" {
			if d, code := g.description(id); code != 200 || d != want {
				t.Fatalf("op %d: %s serves %q (%d), want %q", op, id, d, code, want)
			}
		}
	}
	close(stop)
	wg.Wait()

	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during reloads, e.g. %v", n, requests.Load(), failed[:min(len(failed), 5)])
	}
	t.Logf("%d requests, 0 failed, during 200 rewrites", requests.Load())
	for id, want := range current {
		if d, _ := g.description(id); d != want {
			t.Errorf("%s: serving %q, want %q", id, d, want)
		}
	}
	if strings.Contains(g.logs.String(), "never served") {
		// Descriptions are not logged at all; a rejected file's content never is.
		t.Error("log contains content of a rejected manifest")
	}

	// The admin API and the metrics tell the same story.
	cat := g.adminFiles()
	code, body, _ := g.get("/metrics", false)
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	metrics := string(body)
	if want := fmt.Sprintf("plugboard_integrations_loaded %d\n", cat.Integrations); !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q", want)
	}
	if cat.Integrations != len(current) {
		t.Errorf("admin API counts %d integrations, want %d", cat.Integrations, len(current))
	}
	for _, f := range cat.Files {
		valid := 0
		if f.Status == manifest.StatusOK {
			valid = 1
		}
		want := fmt.Sprintf("plugboard_manifest_file_valid{file=%q} %d\n", filepath.Base(f.File), valid)
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q (admin says %s)", want, f.Status)
		}
	}
	if !strings.Contains(metrics, `plugboard_catalog_info{revision="`+cat.Revision+`"} 1`) {
		t.Error("metrics and admin API disagree on the catalog revision")
	}
}

// waitRejected waits until the admin API reports file as not ok with a
// problem naming marker, and checks the bad version is not served.
func waitRejected(t *testing.T, g *testGateway, file, marker string) {
	t.Helper()
	testfix.Eventually(t, "rejection of "+marker, func() bool {
		for _, f := range g.adminFiles().Files {
			if filepath.Base(f.File) == file && f.Status != manifest.StatusOK {
				for _, p := range f.Problems {
					if strings.Contains(p.Message, marker) {
						return true
					}
				}
			}
		}
		return false
	})
	code, body, _ := g.get("/v1/integrations", false)
	if code != 200 || strings.Contains(string(body), "never served") {
		t.Fatalf("invalid edit %s is served: %s", marker, body)
	}
}
