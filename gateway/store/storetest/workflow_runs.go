package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
)

func runsOf(t *testing.T, h *harness) store.WorkflowRuns {
	t.Helper()
	r, ok := h.fresh(t).(store.WorkflowRuns)
	if !ok {
		t.Fatal("the store does not keep workflow runs (store.WorkflowRuns)")
	}
	return r
}

func newRun(user, workflow, dedup string) *store.WorkflowRun {
	return &store.WorkflowRun{ProjectID: "p1", UserID: user, WorkflowID: workflow, WorkflowHash: "h", TriggerType: "event",
		Trigger: json.RawMessage(`{"type":"event","name":"x"}`), Settings: json.RawMessage(`{"channel":"#a"}`), DedupKey: dedup}
}

func testWorkflowRunsCreate(t *testing.T, h *harness) {
	s, ctx := runsOf(t, h), context.Background()
	var hooked []string
	hook := func(_ context.Context, tx store.Tx, created []*store.WorkflowRun) error {
		if tx.SQLite == nil && tx.Postgres == nil {
			t.Error("the hook got no transaction")
		}
		for _, r := range created {
			hooked = append(hooked, r.UserID)
		}
		return nil
	}
	created, err := s.CreateRuns(ctx, []*store.WorkflowRun{newRun("a", "w", "k1"), newRun("b", "w", "")}, 0, hook)
	if err != nil || len(created) != 2 || len(hooked) != 2 {
		t.Fatalf("create: %d created, %v hooked, %v", len(created), hooked, err)
	}
	// The same key again, with a new one: only the new one is created.
	hooked = nil
	created, err = s.CreateRuns(ctx, []*store.WorkflowRun{newRun("a", "w", "k1"), newRun("c", "w", "k2")}, 0, hook)
	if err != nil || len(created) != 1 || created[0].UserID != "c" || len(hooked) != 1 {
		t.Fatalf("dedup: %d created, %v hooked, %v", len(created), hooked, err)
	}
	// A failing hook rolls the runs back.
	_, err = s.CreateRuns(ctx, []*store.WorkflowRun{newRun("d", "w", "k3")}, 0, func(context.Context, store.Tx, []*store.WorkflowRun) error {
		return errors.New("enqueue failed")
	})
	if err == nil {
		t.Fatal("a failing hook did not fail CreateRuns")
	}
	page, err := s.ListRuns(ctx, store.RunFilter{UserID: "d"})
	if err != nil || len(page.Runs) != 0 {
		t.Fatalf("after a failed hook: %d runs (%v)", len(page.Runs), err)
	}
	got, err := s.Run(ctx, created[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.RunQueued || string(got.Settings) == "" || got.CreatedAt.IsZero() || got.DedupKey != "k2" || got.WorkflowHash != "h" {
		t.Errorf("read back: %+v", got)
	}
	var trig map[string]any
	if json.Unmarshal(got.Trigger, &trig) != nil || trig["name"] != "x" {
		t.Errorf("trigger read back: %s", got.Trigger)
	}
	if _, err := s.Run(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
	// The connection its trigger chose, when it chose one.
	chosen := newRun("e", "w", "")
	chosen.CredentialID = "5b0c7a52-4f1e-4a57-9d55-0c3f1f5f8f10"
	if _, err := s.CreateRuns(ctx, []*store.WorkflowRun{chosen}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Run(ctx, chosen.ID); err != nil || got.CredentialID != chosen.CredentialID {
		t.Errorf("credential read back: %+v %v", got, err)
	}
	page, err = s.ListRuns(ctx, store.RunFilter{UserID: "e"})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].CredentialID != chosen.CredentialID {
		t.Errorf("credential listed: %+v %v", page, err)
	}
}

func testWorkflowRunsSaveAndSteps(t *testing.T, h *harness) {
	s, ctx := runsOf(t, h), context.Background()
	created, err := s.CreateRuns(ctx, []*store.WorkflowRun{newRun("a", "w", "")}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := created[0]
	at := time.Now().UTC().Truncate(time.Millisecond)
	step := &store.WorkflowStep{RunID: run.ID, Path: "post", Seq: 0, StepID: "post", Kind: "action", Status: store.StepRetrying,
		Attempts: 1, StartedAt: at, Error: "attempt 1 of 3: 503"}
	if err := s.SaveRun(ctx, nil, []*store.WorkflowStep{step}, nil); err != nil {
		t.Fatal(err)
	}
	step2 := *step
	step2.Status, step2.Attempts, step2.Error, step2.Output, step2.FinishedAt = store.StepSucceeded, 2, "", json.RawMessage(`{"status":200}`), at.Add(time.Second)
	loop := &store.WorkflowStep{RunID: run.ID, Path: "each/0/x", Seq: 1, StepID: "x", Kind: "request", Status: store.StepSucceeded, StartedAt: at}
	run.Status, run.ResponseStatus, run.Response, run.FinishedAt = store.RunSucceeded, 201, json.RawMessage(`{"ok":true}`), at.Add(2*time.Second)
	if err := s.SaveRun(ctx, run, []*store.WorkflowStep{&step2, loop}, func(_ context.Context, tx store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	steps, err := s.RunSteps(ctx, run.ID)
	if err != nil || len(steps) != 2 {
		t.Fatalf("steps: %d (%v)", len(steps), err)
	}
	if p := steps[0]; p.Path != "post" || p.Attempts != 2 || p.Status != store.StepSucceeded || p.Error != "" || string(p.Output) == "" ||
		!p.StartedAt.Equal(at) || !p.FinishedAt.Equal(at.Add(time.Second)) {
		t.Errorf("post: %+v", p)
	}
	if steps[1].Path != "each/0/x" || steps[1].Output != nil || !steps[1].FinishedAt.IsZero() {
		t.Errorf("each/0/x: %+v", steps[1])
	}
	got, _ := s.Run(ctx, run.ID)
	if got.Status != store.RunSucceeded || got.ResponseStatus != 201 || !got.FinishedAt.Equal(run.FinishedAt) {
		t.Errorf("run: %+v", got)
	}
	var resp map[string]any
	if json.Unmarshal(got.Response, &resp) != nil || resp["ok"] != true {
		t.Errorf("response: %s", got.Response)
	}
	// A failing hook writes nothing.
	run.Status = store.RunFailed
	if err := s.SaveRun(ctx, run, nil, func(context.Context, store.Tx) error { return errors.New("no") }); err == nil {
		t.Error("a failing hook did not fail SaveRun")
	}
	if got, _ := s.Run(ctx, run.ID); got.Status != store.RunSucceeded {
		t.Errorf("after a failed hook: %s", got.Status)
	}
	counts, err := s.CountRuns(ctx, store.RunSucceeded)
	if err != nil || counts["w"][store.RunSucceeded] != 1 {
		t.Errorf("counts: %v %v", counts, err)
	}
}

func testWorkflowRunsList(t *testing.T, h *harness) {
	s, ctx := runsOf(t, h), context.Background()
	var ids []string
	for _, u := range []string{"a", "b", "a", "a", "b"} {
		created, err := s.CreateRuns(ctx, []*store.WorkflowRun{newRun(u, "w-"+u, "")}, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, created[0].ID)
		time.Sleep(2 * time.Millisecond) // distinct creation times: newest first is then the reverse
	}
	var seen []string
	f := store.RunFilter{UserID: "a", Limit: 2}
	for {
		page, err := s.ListRuns(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Runs {
			seen = append(seen, r.ID)
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if want := []string{ids[3], ids[2], ids[0]}; len(seen) != 3 || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] {
		t.Errorf("user a, newest first, 2 a page: %v, want %v", seen, want)
	}
	if page, _ := s.ListRuns(ctx, store.RunFilter{WorkflowID: "w-b", Status: store.RunQueued}); len(page.Runs) != 2 {
		t.Errorf("workflow w-b queued: %d runs", len(page.Runs))
	}
	if page, _ := s.ListRuns(ctx, store.RunFilter{ProjectID: "other"}); len(page.Runs) != 0 {
		t.Errorf("another project: %d runs", len(page.Runs))
	}
	if _, err := s.ListRuns(ctx, store.RunFilter{Cursor: "not-a-cursor"}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
	if _, err := s.ListRuns(ctx, store.RunFilter{Status: "done"}); err == nil {
		t.Error("an unknown status was accepted")
	}
}

func testWorkflowRunsStartLimits(t *testing.T, h *harness) {
	s, ctx := runsOf(t, h), context.Background()
	created, err := s.CreateRuns(ctx, []*store.WorkflowRun{newRun("a", "w", ""), newRun("a", "w", ""), newRun("a", "w", ""), newRun("b", "w", "")}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := func(i, maxProject, maxUser int) bool {
		t.Helper()
		ok, err := s.StartRun(ctx, created[i].ID, maxProject, maxUser)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !start(0, 3, 2) || !start(1, 3, 2) {
		t.Fatal("the first two runs of a did not start")
	}
	if start(2, 3, 2) {
		t.Error("a third run of a started with 2 per user")
	}
	if !start(0, 3, 2) {
		t.Error("a running run is not reported as started")
	}
	if !start(3, 3, 2) {
		t.Error("b's run did not start (3 per project)")
	}
	// Project full: a's third waits until one ends.
	run, _ := s.Run(ctx, created[0].ID)
	run.Status, run.FinishedAt = store.RunSucceeded, time.Now()
	if err := s.SaveRun(ctx, run, nil, nil); err != nil {
		t.Fatal(err)
	}
	if !start(2, 3, 2) {
		t.Error("a's third run did not start once a slot was free")
	}
	if got, _ := s.Run(ctx, created[2].ID); got.Status != store.RunRunning || got.StartedAt.IsZero() {
		t.Errorf("started run: %s, startedAt %v", got.Status, got.StartedAt)
	}
}

// testWorkflowRunsQueueCap: CreateRuns refuses, whole, runs that would put
// a user over the queued cap; running and finished runs do not count,
// nor do other users' runs; concurrent calls cannot both take the last
// places.
func testWorkflowRunsQueueCap(t *testing.T, h *harness) {
	s, ctx := runsOf(t, h), context.Background()
	created, err := s.CreateRuns(ctx, []*store.WorkflowRun{newRun("a", "w", ""), newRun("a", "w", ""), newRun("b", "w", "")}, 3, nil)
	if err != nil || len(created) != 3 {
		t.Fatalf("within the cap: %d created, %v", len(created), err)
	}
	_, err = s.CreateRuns(ctx, []*store.WorkflowRun{newRun("a", "w", ""), newRun("a", "w", "")}, 3, nil)
	var full *store.QueueFullError
	if !errors.As(err, &full) || full.UserID != "a" || full.Queued != 2 || full.Max != 3 {
		t.Fatalf("two more of a with 2 queued and a cap of 3: %v, want a *QueueFullError", err)
	}
	if page, _ := s.ListRuns(ctx, store.RunFilter{UserID: "a"}); len(page.Runs) != 2 {
		t.Errorf("a refused call created %d runs of a, want none (2 in all)", len(page.Runs)-2)
	}
	// A run that starts leaves the queue.
	if ok, err := s.StartRun(ctx, created[0].ID, 0, 0); !ok || err != nil {
		t.Fatalf("StartRun: %v %v", ok, err)
	}
	if _, err := s.CreateRuns(ctx, []*store.WorkflowRun{newRun("a", "w", ""), newRun("a", "w", "")}, 3, nil); err != nil {
		t.Errorf("two more of a with 1 queued: %v", err)
	}
	if _, err := s.CreateRuns(ctx, []*store.WorkflowRun{newRun("b", "w", ""), newRun("b", "w", "")}, 3, nil); err != nil {
		t.Errorf("b's queue is b's: %v", err)
	}
	// Without a cap, nothing is refused.
	if _, err := s.CreateRuns(ctx, []*store.WorkflowRun{newRun("a", "w", "")}, 0, nil); err != nil {
		t.Errorf("no cap: %v", err)
	}
	// Concurrent calls for a new user, 8 of them for 5 places: 5 pass.
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateRuns(ctx, []*store.WorkflowRun{newRun("c", "w", "")}, 5, nil)
			if err != nil && !errors.As(err, new(*store.QueueFullError)) {
				t.Error(err)
			}
			mu.Lock()
			if err == nil {
				passed++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if page, _ := s.ListRuns(ctx, store.RunFilter{UserID: "c"}); passed != 5 || len(page.Runs) != 5 {
		t.Errorf("concurrent calls: %d passed, %d runs of c, want 5 and 5", passed, len(page.Runs))
	}
}
