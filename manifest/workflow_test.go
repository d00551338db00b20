package manifest

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// acmeManifest is the integration the workflows in testdata/workflows
// belong to: an api_key manifest with the actions list_tickets and
// create_ticket.
var acmeManifest = filepath.Join("testdata", "workflows", "acme.yaml")

// badWorkflows pairs each file in testdata/workflows/bad with the one
// problem it must produce, as Problem.String() writes it after the file
// name: line:col: path: message (hint).
var badWorkflows = []struct {
	file string
	want string
}{
	{"empty.workflow.yaml", `1:1: file is empty (a workflow needs at least id, title, integration, trigger and steps)`},
	{"two-documents.workflow.yaml", `2:1: file holds more than one YAML document (put each workflow in its own file)`},
	{"cel-if.workflow.yaml", `8:25: steps[0].if: invalid expression: Syntax error: mismatched input '<EOF>'`},
	{"cel-literal-block.workflow.yaml", `10:9: steps[0].if: invalid expression: undeclared reference to 'nope' (expressions see trigger, steps, settings and user, and in a loop its variable and index)`},
	{"cel-syntax.workflow.yaml", `9:42: steps[0].response.body.n: invalid expression: Syntax error: missing ')' at '<EOF>'`},
	{"cel-undeclared.workflow.yaml", `9:35: steps[0].response.body.n: invalid expression: undeclared reference to 'usr' (did you mean 'user'?) (expressions see trigger, steps, settings and user, and in a loop its variable and index)`},
	{"cron-every.workflow.yaml", `5:20: trigger.schedule.cron: invalid cron expression "@every 1s": @every is not supported (write it as cron fields, e.g. "*/15 * * * *" for every 15 minutes)`},
	{"cron-invalid.workflow.yaml", `5:20: trigger.schedule.cron: invalid cron expression "0 25 * * *": end of range (25) above maximum (23): 25 (five fields: minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5")`},
	{"cron-six-fields.workflow.yaml", `5:20: trigger.schedule.cron: invalid cron expression "0 0 9 * * *": expected exactly 5 fields, found 6: [0 0 9 * * *] (five fields: minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5")`},
	{"duplicate-step-id.workflow.yaml", `13:13: steps[1].do[0].id: step id "a" is already used at steps[0] (step ids must be unique in the whole workflow, inside conditions and loops too)`},
	{"id-uppercase.workflow.yaml", `1:5: id: value "Bad_ID" has the wrong form (lower-case letters, digits and hyphens, starting with a letter or digit, at most 63 characters)`},
	{"lifecycle-unknown-event.workflow.yaml", `5:15: trigger.lifecycle[0]: "connection.removed" is not an allowed value (did you mean "connection.created"?)`},
	{"loop-as-reserved.workflow.yaml", `9:9: steps[0].as: "steps" is already a variable of every expression (choose another name, e.g. item or issue)`},
	{"loop-cap-too-high.workflow.yaml", `9:15: steps[0].maxItems: must be <= 1000 but found 5000 (The longest list the loop accepts: a longer one fails the step (nothing is run).)`},
	{"loop-local-undeclared.workflow.yaml", `15:60: steps[0].do[0].do[0].parameters.title: invalid expression: undeclared reference to 'idx' (expressions see trigger, steps, settings and user, and in a loop its variable and index)`},
	{"missing-parameter.workflow.yaml", `10:7: steps[0].parameters: action create_ticket needs parameter "title" (it is required)`},
	{"missing-steps.workflow.yaml", `1:1: missing required field "steps" (The steps, run in order.)`},
	{"request-get-with-body.workflow.yaml", `8:38: steps[0].request.body: a GET request has no body (send parameters of a GET in query)`},
	{"request-header-authorization.workflow.yaml", `11:17: steps[0].request.headers.Authorization: header "Authorization" cannot be set by a workflow (the gateway sets it; the credential comes from the manifest's api.authorization)`},
	{"request-header-proxy-url.workflow.yaml", `11:17: steps[0].request.headers.X-Paragon-Proxy-Url: header "X-Paragon-Proxy-Url" cannot be set by a workflow (the gateway sets it; the credential comes from the manifest's api.authorization)`},
	{"request-path-dot-segments.workflow.yaml", `8:34: steps[0].request.path: dot segments (. or ..) are not allowed in a path (a path relative to the integration's api.baseUrl, e.g. /user/repos)`},
	{"response-in-loop.workflow.yaml", `10:9: steps[0].do[0].response: a response step cannot be inside a loop (respond after the loop)`},
	{"response-under-event.workflow.yaml", `8:5: steps[0].response: a response step answers a request, but this workflow's trigger is event (only a request trigger (the SDK's workflow() call) waits for an answer)`},
	{"setting-default-wrong-type.workflow.yaml", `6:47: settings[0].default: default "lots" is not a number`},
	{"settings-undeclared.workflow.yaml", `10:28: steps[0].parameters.project: settings.projct is not a declared setting (did you mean "project"?)`},
	{"step-field-wrong-kind.workflow.yaml", `10:5: steps[0].then: "then" does not apply to action steps (it belongs to if steps)`},
	{"step-two-kinds.workflow.yaml", `9:5: steps[0].response: step "a" has both action and response; a step does one thing (split it into two steps)`},
	{"steps-later.workflow.yaml", `8:28: steps[0].parameters.project: steps.second: step "second" runs after this one, so its output does not exist yet (refer to the steps before it, or move the step)`},
	{"steps-own-output.workflow.yaml", `7:13: steps[0].if: steps.check is this step's own output, which does not exist while it runs (refer to the steps before it)`},
	{"steps-undeclared.workflow.yaml", `11:24: steps[1].response.body: steps.fetc: there is no step "fetc" (did you mean "fetch"?)`},
	{"timeout-too-long.workflow.yaml", `10:14: steps[0].timeout: 10m is longer than the 5m allowed`},
	{"timezone-unknown.workflow.yaml", `5:43: trigger.schedule.timezone: unknown time zone "Europe/Pariss" (an IANA time zone name, e.g. Europe/Paris or America/New_York)`},
	{"too-many-steps.workflow.yaml", `6:3: steps: the workflow has 101 steps; at most 100 (counting those inside conditions and loops) (split the work into several workflows, or loop over a list)`},
	{"trigger-empty.workflow.yaml", `4:10: trigger: the trigger names none of request, event, lifecycle or schedule (e.g. request: {}, event: lead.created, lifecycle: [connection.created] or schedule: {cron: "0 9 * * 1-5"})`},
	{"two-triggers.workflow.yaml", `6:3: trigger.event: the trigger is already request; it cannot also be event (a workflow has one trigger; make another workflow for the other)`},
	{"unknown-action.workflow.yaml", `8:13: steps[0].action: integration "acme" has no action "list_ticket" (did you mean "list_tickets"?)`},
	{"unknown-integration.workflow.yaml", `3:14: integration: integration "acm" is not loaded (did you mean "acme"?)`},
	{"unknown-parameter.workflow.yaml", `9:32: steps[0].parameters.perpage: action list_tickets has no parameter "perpage" (did you mean "per_page"?)`},
	{"unknown-step-field.workflow.yaml", `10:5: steps[0].retires: unknown field "retires" (did you mean "retry"?)`},
}

func TestWorkflowBadFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "workflows", "bad", "*.workflow.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range badWorkflows {
		listed[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "workflows", "bad", tc.file)
			res := LoadFiles([]string{path, acmeManifest}, Options{})
			f := res.Files[1]
			if f.Path != path {
				t.Fatalf("files out of order: %v", f.Path)
			}
			if f.Workflow != nil || len(res.Workflows()) != 0 {
				t.Fatalf("workflow loaded despite its problems %v", f.Problems)
			}
			if len(f.Problems) != 1 {
				t.Fatalf("want exactly one problem, got:\n%v", f.Problems)
			}
			if got := f.Problems[0].String(); got != path+":"+tc.want {
				t.Errorf("problem\n got: %s\nwant: %s:%s", got, path, tc.want)
			}
			if res.Files[0].Integration == nil {
				t.Errorf("the manifest beside the workflow failed: %v", res.Files[0].Problems)
			}
		})
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no expected problem in badWorkflows", f)
		}
	}
}

func loadGoodWorkflows(t *testing.T) *Result {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "workflows", "good", "*.workflow.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	res := LoadFiles(append(files, acmeManifest), Options{})
	for _, f := range res.Files {
		if f.Problems.HasErrors(true) {
			t.Fatalf("%s: %v", f.Path, f.Problems)
		}
	}
	return res
}

func TestWorkflowGoodFiles(t *testing.T) {
	res := loadGoodWorkflows(t)
	byID := map[string]*Workflow{}
	for _, wf := range res.Workflows() {
		byID[wf.ID] = wf
	}
	if len(byID) != 4 || len(res.Integrations()) != 1 {
		t.Fatalf("loaded %d workflows and %d integrations", len(byID), len(res.Integrations()))
	}

	wf := byID["triage-tickets"]
	if wf.Title != "Triage open tickets" || wf.Integration != "acme" || !wf.EnabledByDefault || wf.Trigger.Type != TriggerRequest ||
		len(wf.Hash) != 64 || !strings.HasSuffix(wf.Source, "everything.workflow.yaml") {
		t.Errorf("workflow fields: %+v", wf)
	}
	wantSettings := []WorkflowSetting{
		{Key: "project", Label: "Project", Help: "The project's key.", Type: "string", Required: true, Default: "OPS"},
		{Key: "urgent_after", Label: "Urgent after (days)", Type: "number", Default: 3.0},
		{Key: "notify", Label: "Notify", Type: "boolean", Default: false},
		{Key: "level", Label: "Level", Type: "string", Default: "low", Enum: []string{"low", "high"}},
	}
	if len(wf.Settings) != len(wantSettings) {
		t.Fatalf("settings %+v", wf.Settings)
	}
	for i, s := range wf.Settings {
		w := wantSettings[i]
		if s.Key != w.Key || s.Label != w.Label || s.Help != w.Help || s.Type != w.Type || s.Required != w.Required || s.Default != w.Default || !slices.Equal(s.Enum, w.Enum) {
			t.Errorf("setting %d: %+v, want %+v", i, s, w)
		}
	}

	fetch, me, many, answer := wf.Steps[0], wf.Steps[1], wf.Steps[2], wf.Steps[3]
	if fetch.Kind != StepAction || fetch.Action != "list_tickets" || fetch.Title != "List open tickets" ||
		fetch.Retry != (Retry{Attempts: 5, Backoff: 2 * time.Second}) || fetch.Timeout != 10*time.Second || fetch.ContinueOnError {
		t.Errorf("fetch: %+v", fetch)
	}
	if me.Kind != StepRequest || me.Method != "GET" || !me.ContinueOnError || me.Retry != (Retry{DefaultWorkflowAttempts, DefaultWorkflowBackoff}) ||
		me.Timeout != DefaultWorkflowStepTimeout || len(me.Query) != 2 || len(me.Headers) != 1 || me.Body != nil {
		t.Errorf("me: %+v", me)
	}
	if many.Kind != StepCondition || many.If == nil || len(many.Then) != 1 || len(many.Else) != 1 {
		t.Fatalf("many: %+v", many)
	}
	each := many.Then[0]
	if each.Kind != StepLoop || each.As != "ticket" || each.MaxItems != 200 || len(each.Do) != 1 || each.Do[0].ID != "label" {
		t.Errorf("each: %+v", each)
	}
	if answer.Kind != StepResponse || answer.Status != 200 || answer.ResponseBody == nil {
		t.Errorf("answer: %+v", answer)
	}

	// The compiled values evaluate as the contract says.
	ctx := context.Background()
	vars := ExprVars{
		VarTrigger: map[string]any{"type": "request", "body": map[string]any{}},
		VarSteps: map[string]any{"fetch": map[string]any{"status": 200.0, "body": []any{
			map[string]any{"title": "a"}, map[string]any{"title": "b"}}}},
		VarSettings: map[string]any{"project": "OPS", "level": "high"},
		VarUser:     map[string]any{"id": "u1"},
	}
	params, err := fetch.Parameters.Eval(ctx, vars)
	if err != nil || params.(map[string]any)["project"] != "OPS" || params.(map[string]any)["per_page"] != 50.0 || params.(map[string]any)["status"] != "open" {
		t.Errorf("fetch parameters: %v %v", params, err)
	}
	if h, err := me.Headers["X-Trace"].Eval(ctx, vars); err != nil || h != "wf-u1" {
		t.Errorf("header: %v %v", h, err)
	}
	if big, err := many.If.EvalBool(ctx, vars); err != nil || big {
		t.Errorf("condition: %v %v", big, err)
	}
	note := many.Else[0]
	if p, err := note.Path.Eval(ctx, vars); err != nil || p != "/projects/OPS/notes" {
		t.Errorf("computed path: %v %v", p, err)
	}
	if b, err := note.Body.Eval(ctx, vars); err != nil || b.(map[string]any)["text"] != "=not many" || b.(map[string]any)["count"] != 2.0 {
		t.Errorf("body with a literal =: %v %v", b, err)
	}
	loopVars := ExprVars{VarTrigger: vars[VarTrigger], VarSteps: vars[VarSteps], VarSettings: vars[VarSettings], VarUser: vars[VarUser],
		"ticket": map[string]any{"title": "x"}, VarIndex: 1.0}
	if p, err := each.Do[0].Parameters.Eval(ctx, loopVars); err != nil || p.(map[string]any)["title"] != "Urgent: x" {
		t.Errorf("loop parameters: %v %v", p, err)
	}
	if b, err := answer.ResponseBody.Eval(ctx, vars); err != nil || b.(map[string]any)["count"] != 2.0 || b.(map[string]any)["ok"] != true {
		t.Errorf("response body: %v %v", b, err)
	}

	sched := byID["daily-digest"].Trigger
	if sched.Type != TriggerSchedule || sched.Cron != "0 9 * * 1-5" || sched.Timezone.String() != "Europe/Paris" {
		t.Errorf("schedule trigger: %+v", sched)
	}
	cs, err := ParseCron(sched.Cron, sched.Timezone)
	if err != nil {
		t.Fatal(err)
	}
	// Friday 2026-12-04 10:00 in Paris is 09:00 UTC; the next run is Monday 09:00 Paris.
	next := cs.Next(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Errorf("next run %v, want %v", next.UTC(), want)
	}
	if lc := byID["welcome"].Trigger; lc.Type != TriggerLifecycle || !slices.Equal(lc.Lifecycle, []string{"connection.created", "connection.reconnected"}) {
		t.Errorf("lifecycle trigger: %+v", lc)
	}
	if ev := byID["on-lead"].Trigger; ev.Type != TriggerEvent || ev.Event != "lead.created" {
		t.Errorf("event trigger: %+v", ev)
	}
	if p := byID["daily-digest"].Steps[0].Parameters; p == nil || !p.IsExpr() {
		t.Errorf("parameters as one expression: %+v", p)
	}
}

func TestIsWorkflowFile(t *testing.T) {
	for name, want := range map[string]bool{
		"a.workflow.yaml": true, "a.workflow.yml": true, "A.Workflow.YAML": true, "github.yaml": false,
		"workflow.yaml": false, ".a.workflow.yaml": false, "a.workflow.json": false, "a-workflow.yaml": false,
	} {
		if got := IsWorkflowFile(name); got != want {
			t.Errorf("IsWorkflowFile(%q) = %v", name, got)
		}
	}
}

func TestWorkflowDuplicateIDs(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, acmeManifest, filepath.Join(dir, "acme.yaml"))
	wf := "id: same\ntitle: T\nintegration: acme\ntrigger: {request: {}}\nsteps:\n  - {id: a, response: {}}\n"
	writeFile(t, filepath.Join(dir, "a.workflow.yaml"), wf)
	writeFile(t, filepath.Join(dir, "b.workflow.yaml"), wf)
	res, err := LoadPaths([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Workflows()) != 1 || res.Files[0].Workflow == nil || res.Files[2].Workflow != nil {
		t.Fatalf("workflows: %v", res.Problems())
	}
	want := filepath.Join(dir, "b.workflow.yaml") + `:1:5: id: workflow id "same" is already used by ` + filepath.Join(dir, "a.workflow.yaml") + " (workflow ids must be unique across the folder)"
	if got := res.Files[2].Problems.Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// A workflow whose integration's manifest fails says which file to fix.
func TestWorkflowIntegrationFails(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(acmeManifest)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "acme.yaml"), strings.Replace(string(data), "type: api_key", "type: api-key", 1))
	writeFile(t, filepath.Join(dir, "w.workflow.yaml"), "id: w\ntitle: T\nintegration: acme\ntrigger: {request: {}}\nsteps:\n  - {id: a, response: {}}\n")
	res, err := LoadPaths([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Files[1].Problems.Error()
	want := filepath.Join(dir, "w.workflow.yaml") + `:3:14: integration: integration "acme" is not loaded (fix the manifest that does not load: acme.yaml)`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Merge checks workflows again with the merged integrations: a workflow of
// an integration embedded in the binary loads once it is merged.
func TestWorkflowMerge(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.workflow.yaml"), "id: w\ntitle: T\nintegration: acme\ntrigger: {event: x}\nsteps:\n  - {id: a, action: list_tickets, parameters: {project: OPS}}\n")
	res, err := LoadPaths([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Workflows()) != 0 || !res.Problems().HasErrors(false) {
		t.Fatalf("workflow without its integration loaded: %v", res.Problems())
	}
	embedded := LoadFiles([]string{acmeManifest}, Options{})
	res = Merge(embedded.Files, res)
	if len(res.Workflows()) != 1 || res.Problems().HasErrors(false) {
		t.Fatalf("after Merge: %v", res.Problems())
	}
}

func TestWorkflowFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.workflow.yaml")
	writeFile(t, path, strings.Repeat("#", MaxManifestBytes+1))
	res := LoadFiles([]string{path}, Options{})
	if got := res.Files[0].Problems.Error(); !strings.Contains(got, "for a workflow (split it into several workflows)") {
		t.Errorf("got %s", got)
	}
}

// Expressions that rebind steps or settings in a macro are not checked
// against the workflow's ids and keys (the names are the macro's there).
func TestWorkflowShadowedRefs(t *testing.T) {
	src := "id: w\ntitle: T\nintegration: acme\ntrigger: {request: {}}\nsteps:\n" +
		"  - id: answer\n    response: {body: \"=trigger.body.items.map(settings, settings.nope)\"}\n"
	if _, probs := ParseWorkflow("w.workflow.yaml", []byte(src)); probs.HasErrors(false) {
		t.Errorf("shadowed settings reported: %v", probs)
	}
	src = strings.Replace(src, "map(settings, settings.nope)", "map(x, settings['nope'])", 1)
	_, probs := ParseWorkflow("w.workflow.yaml", []byte(src))
	if want := `w.workflow.yaml:7:50: steps[0].response.body: settings.nope is not a declared setting (declare it under settings)`; probs.Error() != want {
		t.Errorf("got  %s\nwant %s", probs.Error(), want)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(data))
}

// TestWorkflowMutations runs ParseWorkflow and the checks against an
// integration on thousands of random corruptions of the test files (the
// fuzz target FuzzParseWorkflow explores further): no panic, a workflow
// exactly when there is no error.
func TestWorkflowMutations(t *testing.T) {
	var seeds [][]byte
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "workflows", dir, "*.workflow.y*ml"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, data)
		}
	}
	acme := LoadFiles([]string{acmeManifest}, Options{}).Files[0].Integration
	rng := rand.New(rand.NewPCG(16, 16))
	alphabet := []byte("=:{}[]-,'\"\\|>#&*!%@` \n\tabcz019._()+<")
	n := 3000
	if s := os.Getenv("PLUGBOARD_TEST_MUTATIONS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		data := slices.Clone(seeds[rng.IntN(len(seeds))])
		for k := rng.IntN(4) + 1; k > 0 && len(data) > 0; k-- {
			switch pos := rng.IntN(len(data)); rng.IntN(3) {
			case 0:
				data[pos] = alphabet[rng.IntN(len(alphabet))]
			case 1:
				data = slices.Delete(data, pos, min(pos+rng.IntN(8)+1, len(data)))
			default:
				data = slices.Insert(data, pos, alphabet[rng.IntN(len(alphabet))])
			}
		}
		wf, probs := ParseWorkflow("m.workflow.yaml", data)
		if (wf == nil) != probs.HasErrors(false) {
			t.Fatalf("workflow %v with problems %v from:\n%s", wf != nil, probs, data)
		}
		for _, p := range probs {
			if p.Line < 0 || p.Column < 0 || p.Message == "" {
				t.Fatalf("badly located problem %+v from:\n%s", p, data)
			}
		}
		if wf != nil {
			_ = linkWorkflow(wf, acme, []string{"acme"}, nil)
		}
	}
}

// The shipped example workflows compute what their comments promise.
func TestShippedWorkflows(t *testing.T) {
	res, err := LoadPaths([]string{filepath.Join("..", "integrations.d")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cat := NewCatalog(res, nil, time.Now())
	ctx := context.Background()

	count, ok := cat.Workflow("github-repo-count")
	if !ok || count.Trigger.Type != TriggerRequest || len(cat.WorkflowsFor("github")) != 1 {
		t.Fatalf("github-repo-count: %v", res.Problems())
	}
	vars := ExprVars{
		VarTrigger:  map[string]any{"type": "request", "body": map[string]any{}},
		VarSteps:    map[string]any{},
		VarSettings: map[string]any{"visibility": "all"},
		VarUser:     map[string]any{"id": "u1"},
	}
	params, err := count.Steps[0].Parameters.Eval(ctx, vars)
	if err != nil || params.(map[string]any)["visibility"] != "all" {
		t.Errorf("parameters without a visibility in the call: %v %v", params, err)
	}
	vars[VarTrigger] = map[string]any{"type": "request", "body": map[string]any{"visibility": "private"}}
	if params, err = count.Steps[0].Parameters.Eval(ctx, vars); err != nil || params.(map[string]any)["visibility"] != "private" {
		t.Errorf("parameters with a visibility in the call: %v %v", params, err)
	}
	vars[VarSteps] = map[string]any{"repos": map[string]any{"status": 200.0, "body": []any{
		map[string]any{"full_name": "a/one", "private": true}, map[string]any{"full_name": "a/two", "private": false}}}}
	body, err := count.Steps[1].ResponseBody.Eval(ctx, vars)
	if m, _ := body.(map[string]any); err != nil || m["count"] != 2.0 || m["private"] != 1.0 || !slices.Equal(m["names"].([]any), []any{"a/one", "a/two"}) {
		t.Errorf("answer: %v %v", body, err)
	}

	leads, ok := cat.Workflow("slack-post-new-leads")
	if !ok || leads.Trigger.Event != "lead.created" || leads.EnabledByDefault {
		t.Fatalf("slack-post-new-leads: %+v", leads)
	}
	vars = ExprVars{
		VarTrigger:  map[string]any{"type": "event", "name": "lead.created", "payload": map[string]any{"name": "Ada", "company": "Analytical", "owner": "U0123"}},
		VarSteps:    map[string]any{},
		VarSettings: map[string]any{"channel": "#sales", "mention": true},
		VarUser:     map[string]any{"id": "u1"},
	}
	params, err = leads.Steps[0].Parameters.Eval(ctx, vars)
	if want := "New lead: *Ada* (Analytical) for <@U0123>"; err != nil || params.(map[string]any)["text"] != want {
		t.Errorf("text: %v %v, want %q", params, err, want)
	}
	vars[VarSteps] = map[string]any{"post": map[string]any{"status": 200.0, "body": map[string]any{"ok": true, "channel": "C1", "ts": "1.2"}}}
	if urgent, err := leads.Steps[1].If.EvalBool(ctx, vars); err != nil || urgent {
		t.Errorf("a lead without urgent: %v %v", urgent, err)
	}
}

// The README's example workflow is valid with the shipped Slack manifest.
func TestREADMEWorkflowExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "id: post-new-leads")
	start := strings.LastIndex(s[:max(i, 0)], "```yaml\n")
	end := strings.Index(s[max(i, 0):], "```")
	if i < 0 || start < 0 || end < 0 {
		t.Fatal("the README has no example workflow with id post-new-leads")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "post.workflow.yaml"), s[start+len("```yaml\n"):i+end])
	copyFile(t, filepath.Join("..", "integrations.d", "slack.yaml"), filepath.Join(dir, "slack.yaml"))
	copyFile(t, filepath.Join("..", "integrations.d", "slack.svg"), filepath.Join(dir, "slack.svg"))
	res, err := LoadPaths([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Workflows()) != 1 || res.Problems().HasErrors(true) {
		t.Errorf("the README's example workflow: %v", res.Problems())
	}
}

// Every broken expression of a value is reported, each at its place.
func TestWorkflowAllExpressionErrors(t *testing.T) {
	src := "id: w\ntitle: T\nintegration: acme\ntrigger: {request: {}}\nsteps:\n" +
		"  - id: answer\n    response:\n      body:\n        a: =nope\n        b: [1, =2 +]\n        c: =  user.id\n        d: \"=  usr.id\"\n"
	_, probs := ParseWorkflow("w.workflow.yaml", []byte(src))
	want := []string{
		"w.workflow.yaml:9:13: steps[0].response.body.a: invalid expression: undeclared reference to 'nope' (expressions see trigger, steps, settings and user, and in a loop its variable and index)",
		"w.workflow.yaml:10:20: steps[0].response.body.b[1]: invalid expression: Syntax error: mismatched input '<EOF>'",
		"w.workflow.yaml:12:16: steps[0].response.body.d: invalid expression: undeclared reference to 'usr' (did you mean 'user'?) (expressions see trigger, steps, settings and user, and in a loop its variable and index)",
	}
	if got := strings.Split(probs.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
