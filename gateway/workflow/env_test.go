package workflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/plugboardhq/plugboard/gateway/actions"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
	"github.com/plugboardhq/plugboard/gateway/webhook"
	"github.com/plugboardhq/plugboard/gateway/workflow"
	"github.com/plugboardhq/plugboard/manifest"
	"github.com/prometheus/client_golang/prometheus"
)

// crmManifest is an API-key integration on the fake CRM below.
const crmManifest = `id: crm
name: Fake CRM
description: A CRM stand-in.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: {{URL}}/api
  authorization:
    type: header
    name: X-Api-Key
    value: "{{inputs.api_key}}"
  testEndpoint: /me
actions:
  - name: create_lead
    description: Creates a lead.
    method: POST
    path: /leads
    parameters:
      type: object
      properties:
        name: {type: string}
      required: [name]
    body:
      name: "{{parameters.name}}"
`

// fakeCRM behaves like a small JSON API: it refuses unknown API keys
// (401), creates leads, lists items, and answers 503 to the next N calls of
// a path when told to (an overloaded API).
type fakeCRM struct {
	srv *httptest.Server

	mu    sync.Mutex
	keys  map[string]string // API key -> user
	calls map[string]int    // "METHOD /path" -> calls that reached the handler
	fail  map[string]int    // path -> 503s still to answer
	leads []map[string]any
	// onCall, if set, is called before each answer (not under mu).
	onCall func(r *http.Request)
}

func newFakeCRM(t testing.TB) *fakeCRM {
	f := &fakeCRM{keys: map[string]string{}, calls: map[string]int{}, fail: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCRM) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	onCall := f.onCall
	user, ok := f.keys[r.Header.Get("X-Api-Key")]
	key := r.Method + " " + r.URL.Path
	f.calls[key]++
	failing := f.fail[r.URL.Path] > 0
	if failing {
		f.fail[r.URL.Path]--
	}
	f.mu.Unlock()
	if onCall != nil {
		onCall(r)
	}
	w.Header().Set("Content-Type", "application/json")
	reply := func(status int, v any) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case !ok:
		reply(http.StatusUnauthorized, map[string]any{"error": "invalid API key"})
	case failing:
		reply(http.StatusServiceUnavailable, map[string]any{"error": "overloaded, try again"})
	case r.URL.Path == "/api/me":
		reply(http.StatusOK, map[string]any{"user": user})
	case r.Method == http.MethodPost && r.URL.Path == "/api/leads":
		var lead map[string]any
		if json.Unmarshal(body, &lead) != nil || lead["name"] == nil {
			reply(http.StatusBadRequest, map[string]any{"error": "name is required"})
			return
		}
		f.mu.Lock()
		lead["id"] = "lead_" + strconv.Itoa(len(f.leads)+1)
		lead["owner"] = user
		f.leads = append(f.leads, lead)
		f.mu.Unlock()
		// An API that echoes a credential: outputs must not keep it.
		reply(http.StatusCreated, map[string]any{"id": lead["id"], "name": lead["name"], "owner": user, "access_token": "leaked-" + user})
	case r.URL.Path == "/api/token.form":
		// A token endpoint answering as a form, as some OAuth servers do.
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = io.WriteString(w, "access_token=issued-"+user+"&scope=leads&refresh_token=renew-"+user+"&expires_in=3600")
	case r.URL.Path == "/api/whoami.txt":
		// A debug route echoing the caller's key in plain text.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		status := http.StatusOK
		if r.URL.Query().Get("fail") != "" {
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "Hello "+user+", you called with "+r.Header.Get("X-Api-Key")+" (url-encoded: "+url.QueryEscape(r.Header.Get("X-Api-Key"))+").")
	case r.URL.Path == "/api/items":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		items := make([]any, n)
		for i := range items {
			items[i] = map[string]any{"id": i + 1, "name": "item " + strconv.Itoa(i+1)}
		}
		reply(http.StatusOK, map[string]any{"items": items})
	case strings.HasPrefix(r.URL.Path, "/api/echo"):
		var b any
		_ = json.Unmarshal(body, &b)
		reply(http.StatusOK, map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": b, "user": user})
	default:
		reply(http.StatusNotFound, map[string]any{"error": "no route " + r.URL.Path})
	}
}

func (f *fakeCRM) setOnCall(fn func(r *http.Request)) {
	f.mu.Lock()
	f.onCall = fn
	f.mu.Unlock()
}

func (f *fakeCRM) failNext(path string, n int) {
	f.mu.Lock()
	f.fail[path] = n
	f.mu.Unlock()
}

func (f *fakeCRM) count(methodPath string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[methodPath]
}

func (f *fakeCRM) addKey(key, user string) {
	f.mu.Lock()
	f.keys[key] = user
	f.mu.Unlock()
}

// testCatalog is a catalog with workflows set by the test (the loader of
// *.workflow.yaml files is another package's).
type testCatalog struct {
	integrations *manifest.Catalog
	mu           sync.Mutex
	workflows    []*manifest.Workflow
}

func (c *testCatalog) Workflows() []*manifest.Workflow {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*manifest.Workflow(nil), c.workflows...)
}

func (c *testCatalog) Workflow(id string) (*manifest.Workflow, bool) {
	for _, wf := range c.Workflows() {
		if wf.ID == id {
			return wf, true
		}
	}
	return nil, false
}

func (c *testCatalog) Lookup(id string) (*manifest.Integration, bool) {
	return c.integrations.Lookup(id)
}

// testSettings enables every workflow for every user but those disabled.
type testSettings struct {
	mu       sync.Mutex
	disabled map[string]bool // user/workflow
}

func (s *testSettings) UserWorkflow(_ context.Context, projectID, userID string, wf *manifest.Workflow) (bool, map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]any{}
	for _, st := range wf.Settings {
		if st.Default != nil {
			out[st.Key] = st.Default
		}
	}
	out["user"] = userID
	return !s.disabled[userID+"/"+wf.ID], out, nil
}

func (s *testSettings) disable(user, wf string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disabled == nil {
		s.disabled = map[string]bool{}
	}
	s.disabled[user+"/"+wf] = true
}

type runStore interface {
	store.Store
	store.WorkflowRuns
}

type env struct {
	t        testing.TB
	st       runStore
	crm      *fakeCRM
	cat      *testCatalog
	settings *testSettings
	engine   *workflow.Engine
	base     string
	key      *ecdsa.PrivateKey
	kid      string
	registry *prometheus.Registry
}

type envOptions struct {
	postgresDSN string // "" is SQLite
	sqlitePath  string // "" is a temporary file
	crmURL      string // "" starts a fake CRM
	limits      workflow.Limits
	tick        time.Duration
	now         func() time.Time
	stuckAfter  time.Duration
	workflows   []*manifest.Workflow
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, settings: &testSettings{}, registry: prometheus.NewRegistry()}
	crmURL := o.crmURL
	if crmURL == "" {
		e.crm = newFakeCRM(t)
		crmURL = e.crm.srv.URL
	}
	kr := testKeyring(t)
	var err error
	switch {
	case o.postgresDSN != "":
		e.st, err = store.OpenPostgres(ctx, o.postgresDSN, kr)
	default:
		path := o.sqlitePath
		if path == "" {
			path = filepath.Join(t.TempDir(), "plugboard.db")
		}
		e.st, err = store.OpenSQLite(ctx, path, kr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.st.Close() })

	dir := t.TempDir()
	file := filepath.Join(dir, "crm.yaml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(crmManifest, "{{URL}}", crmURL)), 0o644); err != nil {
		t.Fatal(err)
	}
	res := manifest.LoadFiles([]string{file}, manifest.Options{})
	if p := res.Problems().Errors(); len(p) > 0 {
		t.Fatalf("crm.yaml: %v", p)
	}
	mcat := manifest.NewCatalog(res, nil, time.Now())
	e.cat = &testCatalog{integrations: mcat, workflows: o.workflows}

	guard := &egress.Guard{Policy: egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	creds := &connection.Refresher{Store: e.st, OAuth: oauth.Client{HTTP: oauth.NewHTTPClient(guard, oauth.DefaultTimeout)}}
	ph := &proxy.Handler{Credentials: creds, Egress: guard, MaxBodyBytes: 1 << 20}
	ph.Init()
	if e.key, err = usertoken.GenerateECDSA(); err != nil {
		t.Fatal(err)
	}
	e.kid, _ = usertoken.KeyID(e.key.Public())
	projects, err := project.NewRegistry([]project.Config{{ID: "dev", Keys: []usertoken.PublicKey{{Key: e.key.Public()}}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	directory := integration.NewDirectory(func() *manifest.Catalog { return mcat }, projects.IDs())
	acts := &actions.Service{Integrations: directory, Connections: e.st, Projects: projects, Proxy: ph}
	e.engine, err = workflow.New(workflow.Config{Catalog: func() workflow.Catalog { return e.cat }, Runs: e.st, Connections: e.st,
		Inventory: e.st, Settings: e.settings, Actions: acts, Proxy: ph, Limits: o.limits, ScheduleTick: o.tick, Now: o.now,
		StuckAfter: o.stuckAfter, Metrics: e.registry, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	wc := webhook.Config{Plugins: []webhook.Plugin{e.engine}, PollInterval: 200 * time.Millisecond, Log: testLog(t)}
	var hooks *webhook.Service
	switch st := e.st.(type) {
	case *store.SQLite:
		hooks, err = webhook.NewSQLite(ctx, st, wc)
	case *store.Postgres:
		hooks, err = webhook.NewPostgres(ctx, st, wc)
	}
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	if err := hooks.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, stop := context.WithTimeout(ctx, 10*time.Second)
		defer stop()
		_ = hooks.Stop(stopCtx)
		cancel()
	})
	mux := routes.New()
	e.engine.Register(mux, projects)
	srv := httptest.NewServer(mux.Mux())
	t.Cleanup(srv.Close)
	e.base = srv.URL
	return e
}

func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("PLUGBOARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

func testKeyring(t testing.TB) *seal.Keyring {
	entry := os.Getenv("PLUGBOARD_WF_CHILD_KEY")
	if entry == "" {
		var err error
		if entry, err = seal.GenerateKey(); err != nil {
			t.Fatal(err)
		}
		_ = os.Setenv("PLUGBOARD_WF_CHILD_KEY", entry) // a child process opens the same store
	}
	kr, err := seal.ParseKeyring(entry)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// connect stores a connection of user to the CRM (as the connect flow
// would after its test request passed).
func (e *env) connect(user string) {
	e.t.Helper()
	key := "key-" + user
	if e.crm != nil {
		e.crm.addKey(key, user)
	}
	c := &connection.Connection{ProjectID: "dev", UserID: user, IntegrationID: "crm", Status: connection.StatusValid,
		Credential: connection.Credential{Inputs: map[string]string{"api_key": key}}}
	if err := e.st.Create(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) token(user string) string {
	tok, err := usertoken.Mint(e.key, e.kid, "dev", user, time.Hour, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// post sends a JSON body as user and returns the status, the run header
// and the body.
func (e *env) post(path, user, body string) (int, string, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.token(user))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get(workflow.RunHeader), string(b)
}

// wait waits for run id to finish and returns it with its steps.
func (e *env) wait(id string) *workflow.RunDetail {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run, err := e.engine.Wait(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if !run.Status.Done() {
		e.t.Fatalf("run %s still %s after a minute", id, run.Status)
	}
	d, err := e.engine.Run(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// Building workflows in code, as the loader would.

func expr(t testing.TB, src string, locals ...string) *manifest.Expr {
	t.Helper()
	x, err := manifest.CompileExpr(src, locals)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return x
}

func value(t testing.TB, v any, locals ...string) *manifest.StepValue {
	t.Helper()
	sv, err := manifest.CompileValue(v, locals)
	if err != nil {
		t.Fatalf("%v: %v", v, err)
	}
	return sv
}

func newWorkflow(id string, trigger manifest.Trigger, steps ...*manifest.Step) *manifest.Workflow {
	return &manifest.Workflow{ID: id, Title: id, Integration: "crm", Trigger: trigger, Steps: steps,
		Source: "integrations.d/" + id + ".workflow.yaml", Hash: "hash-of-" + id}
}

func requestStep(t testing.TB, id, method, path string, retry manifest.Retry, locals ...string) *manifest.Step {
	return &manifest.Step{ID: id, Kind: manifest.StepRequest, Method: method, Path: value(t, path, locals...), Retry: retry,
		Timeout: 10 * time.Second}
}

func responseStep(t testing.TB, id string, status int, body any) *manifest.Step {
	return &manifest.Step{ID: id, Kind: manifest.StepResponse, Status: status, ResponseBody: value(t, body)}
}

// freshPostgres returns a DSN for a new, empty database on the server
// PLUGBOARD_TEST_POSTGRES names (skipping without it), dropped at the end.
func freshPostgres(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("PLUGBOARD_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PLUGBOARD_TEST_POSTGRES not set: skipping the PostgreSQL tests")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "workflows_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to PLUGBOARD_TEST_POSTGRES: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
			_ = c.Close(context.Background())
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func mustJSON(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return m
}

func stepsByPath(d *workflow.RunDetail) map[string]*store.WorkflowStep {
	out := map[string]*store.WorkflowStep{}
	for _, s := range d.Steps {
		out[s.Path] = s
	}
	return out
}
