package workflow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

func TestMain(m *testing.M) { os.Exit(testfix.Run(m)) }

const resumeWorkflowFile = `id: resume
title: Three steps
description: Used by the kill -9 test.
integration: crm
enabledByDefault: true
trigger:
  event: go
steps:
  - id: first
    request: {method: POST, path: /echo/first}
    retry: {attempts: 1}
  - id: second
    request: {method: GET, path: /echo/second}
    retry: {attempts: 10, backoff: 2s}
  - id: third
    request: {method: POST, path: /echo/third}
    retry: {attempts: 1}
`

// The real binary, killed with SIGKILL while the second step of a run
// waits for its retry, finishes the run after a restart without making
// the first step again.
func TestBinaryKilledBetweenStepsResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary")
	}
	crm := newFakeCRM(t)
	crm.addKey("key-alice", "alice")
	crm.failNext("/api/echo/second", 1000) // until the kill
	failed := make(chan struct{}, 100)
	crm.setOnCall(func(r *http.Request) {
		if r.URL.Path == "/api/echo/second" {
			failed <- struct{}{}
		}
	})
	dir := t.TempDir()
	manifests := filepath.Join(dir, "integrations.d")
	_ = os.MkdirAll(manifests, 0o755)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(manifests, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("crm.yaml", strings.ReplaceAll(crmManifest, "{{URL}}", crm.srv.URL))
	write("resume.workflow.yaml", resumeWorkflowFile)
	entry, _ := seal.GenerateKey()
	kr, _ := seal.ParseKeyring(entry)
	key, _ := usertoken.GenerateECDSA()
	kid, _ := usertoken.KeyID(key.Public())
	pub, _ := usertoken.EncodePublicKeyPEM(key.Public())
	pubFile := filepath.Join(dir, "project.pub.pem")
	_ = os.WriteFile(pubFile, pub, 0o644)
	dbPath := filepath.Join(dir, "plugboard.db")
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, dbPath, kr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	if err := st.Create(ctx, &connection.Connection{ProjectID: "dev", UserID: "alice", IntegrationID: "crm", Status: connection.StatusValid,
		Credential: connection.Credential{Inputs: map[string]string{"api_key": "key-alice"}}}); err != nil {
		t.Fatal(err)
	}
	const adminToken = "workflow-admin-token-0123456789"
	start := func() (*testfix.Process, string) {
		cmd := exec.Command(testfix.Plugboard(t), "serve", "--mode", "production", "--listen", "127.0.0.1:0", "--manifests", manifests,
			"--data", t.TempDir(), "--store", dbPath, "--log-format", "json", "--poll-interval", "0s", "--egress-allow", "127.0.0.0/8")
		cmd.Env = append(os.Environ(), "PLUGBOARD_ENCRYPTION_KEYS="+entry, "PLUGBOARD_ADMIN_TOKEN="+adminToken,
			"PLUGBOARD_PROJECT_KEYS="+pubFile, "PLUGBOARD_PUBLIC_URL=http://127.0.0.1")
		p := testfix.Start(t, cmd)
		return p, "http://" + p.Listening()
	}
	adminGet := func(base, path string, v any) int {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(v)
		return resp.StatusCode
	}

	first, base := start()
	var wfs struct{ Workflows []struct{ ID string } }
	if adminGet(base, "/admin/v1/workflows", &wfs) != 200 || len(wfs.Workflows) != 1 {
		t.Fatalf("the gateway did not load resume.workflow.yaml (GET /admin/v1/workflows: %+v)", wfs)
	}
	tok, _ := usertoken.Mint(key, kid, "dev", "alice", time.Hour, time.Now())
	req, _ := http.NewRequest(http.MethodPost, base+"/v2/projects/dev/sdk/events/trigger", strings.NewReader(`{"name": "go", "payload": {}}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var started struct{ Runs []struct{ ID string } }
	_ = json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(started.Runs) != 1 {
		t.Fatalf("event: %d %+v", resp.StatusCode, started)
	}
	runID := started.Runs[0].ID
	select {
	case <-failed:
	case <-time.After(time.Minute):
		t.Fatal("the second step was never tried")
	}
	waitFor(t, "the failed attempt recorded and its job waiting to be retried", func() bool {
		steps, err := st.RunSteps(ctx, runID)
		var waiting int
		_ = st.DB().QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE kind = 'plugboard_workflow_step' AND state = 'retryable'`).Scan(&waiting)
		return err == nil && len(steps) == 2 && steps[1].Status == store.StepRetrying && waiting == 1
	})
	if err := first.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait(10 * time.Second)
	crm.failNext("/api/echo/second", 0)

	_, base = start()
	var run struct {
		Status string
		Error  string
		Steps  []store.WorkflowStep
	}
	waitFor(t, "the run finished after the restart", func() bool {
		return adminGet(base, "/admin/v1/workflow-runs/"+runID, &run) == 200 && (run.Status == "succeeded" || run.Status == "failed")
	})
	if run.Status != "succeeded" || len(run.Steps) != 3 || run.Steps[0].Attempts != 1 || run.Steps[1].Attempts < 2 {
		t.Fatalf("run %s %q: %+v", run.Status, run.Error, run.Steps)
	}
	for path, want := range map[string]int{"POST /api/echo/first": 1, "POST /api/echo/third": 1} {
		if n := crm.count(path); n != want {
			t.Errorf("%s: %d calls, want %d (a finished step ran again?)", path, n, want)
		}
	}
}
