package workflow_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
)

// killWorkflow: first (once), second (retried, 2 s apart), third.
func killWorkflow(t testing.TB) *manifest.Workflow {
	return newWorkflow("resume", manifest.Trigger{Type: manifest.TriggerEvent, Event: "go"},
		requestStep(t, "first", "POST", "/echo/first", manifest.Retry{Attempts: 1}),
		requestStep(t, "second", "GET", "/echo/second", manifest.Retry{Attempts: 10, Backoff: 2 * time.Second}),
		requestStep(t, "third", "POST", "/echo/third", manifest.Retry{Attempts: 1}))
}

// TestKillChild is the gateway process of TestKillBetweenStepsResumes: it
// runs the engine on the SQLite file and fake CRM its parent names, and
// waits to be killed.
func TestKillChild(t *testing.T) {
	path, crmURL := os.Getenv("PLUGBOARD_WF_CHILD_DB"), os.Getenv("PLUGBOARD_WF_CHILD_CRM")
	if path == "" {
		t.Skip("run by TestKillBetweenStepsResumes")
	}
	e := newEnv(t, envOptions{sqlitePath: path, crmURL: crmURL, workflows: []*manifest.Workflow{killWorkflow(t)}, stuckAfter: 10 * time.Second})
	if os.Getenv("PLUGBOARD_WF_CHILD_START") != "" {
		e.connect("alice")
		runs, err := e.engine.TriggerEvent(context.Background(), "dev", "alice", "go", map[string]any{})
		if err != nil || len(runs) != 1 {
			t.Fatalf("trigger: %v %v", runs, err)
		}
		fmt.Println("RUN", runs[0].ID)
	}
	fmt.Println("READY")
	select {}
}

func TestKillBetweenStepsResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
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
	dbPath := filepath.Join(t.TempDir(), "plugboard.db")
	testKeyring(t) // the children open the store with the same key

	start := func(first bool) (*exec.Cmd, chan string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.timeout=5m")
		cmd.Env = append(os.Environ(), "PLUGBOARD_WF_CHILD_DB="+dbPath, "PLUGBOARD_WF_CHILD_CRM="+crm.srv.URL)
		if first {
			cmd.Env = append(cmd.Env, "PLUGBOARD_WF_CHILD_START=1")
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 10)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) })
		return cmd, lines
	}
	readLine := func(lines chan string, prefix string) string {
		t.Helper()
		for l := range lines {
			if strings.HasPrefix(l, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(l, prefix))
			}
		}
		t.Fatalf("the child exited before printing %s", prefix)
		return ""
	}

	child, lines := start(true)
	runID := readLine(lines, "RUN")
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, dbPath, testKeyring(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()

	// The second step's first attempt failed and is recorded: the run
	// waits for its retry. Kill the process there.
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
	if err := child.Process.Kill(); err != nil { // SIGKILL: no cleanup
		t.Fatal(err)
	}
	_ = child.Wait()
	crm.failNext("/api/echo/second", 0)
	if n := crm.count("POST /api/echo/first"); n != 1 {
		t.Fatalf("first called %d times before the kill", n)
	}

	_, lines = start(false)
	readLine(lines, "READY")
	restarted := time.Now()
	defer func() { t.Logf("the run finished %s after the restart", time.Since(restarted).Round(time.Millisecond)) }()
	var run *store.WorkflowRun
	waitFor(t, "the run finished after the restart", func() bool {
		run, err = st.Run(ctx, runID)
		return err == nil && run.Status.Done()
	})
	steps, err := st.RunSteps(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunSucceeded || len(steps) != 3 {
		t.Fatalf("run %s %q with %d steps", run.Status, run.Error, len(steps))
	}
	if steps[0].Attempts != 1 || steps[1].Attempts < 2 || steps[1].Status != store.StepSucceeded || steps[2].Status != store.StepSucceeded {
		t.Errorf("steps: first %d attempts, second %d attempts (%s), third %s", steps[0].Attempts, steps[1].Attempts, steps[1].Status, steps[2].Status)
	}
	for path, want := range map[string]int{"POST /api/echo/first": 1, "POST /api/echo/third": 1} {
		if n := crm.count(path); n != want {
			t.Errorf("%s: %d calls, want %d (a finished step ran again?)", path, n, want)
		}
	}
}

// waitFor polls cond until it holds, for up to two minutes (a process
// restarted after kill -9 may wait for River's leader lease to lapse).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after 2 minutes", what)
		}
	}
}
