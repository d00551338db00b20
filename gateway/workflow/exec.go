package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/actions"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
	"github.com/riverqueue/river"
)

type stepWorker struct {
	river.WorkerDefaults[stepArgs]
	e *Engine
}

// Timeout leaves a step's own timeout (applied to each attempt) room to
// fire first, and the result room to be written. River's rescuer leaves a
// job "running" alone this long after its attempt began: a step cut short
// by a crash is made again after its timeout and a margin.
func (w *stepWorker) Timeout(job *river.Job[stepArgs]) time.Duration {
	if wf, ok := w.e.catalog().Workflow(job.Args.WorkflowID); ok {
		if s := stepAtCursor(wf, job.Args.Cursor); s != nil {
			return min(durOr(s.Timeout, manifest.DefaultWorkflowStepTimeout)+30*time.Second, w.e.cfg.StuckAfter)
		}
	}
	return w.e.cfg.StuckAfter
}

// NextRetry waits the step's backoff, doubled for each failed attempt.
func (w *stepWorker) NextRetry(job *river.Job[stepArgs]) time.Time {
	backoff := manifest.DefaultWorkflowBackoff
	if wf, ok := w.e.catalog().Workflow(job.Args.WorkflowID); ok {
		if s := stepAtCursor(wf, job.Args.Cursor); s != nil && s.Retry.Backoff > 0 {
			backoff = s.Retry.Backoff
		}
	}
	n := min(max(job.Attempt-1, 0), 20)
	return time.Now().Add(min(backoff*time.Duration(1<<n), time.Hour))
}

func stepAtCursor(wf *manifest.Workflow, c []int) *manifest.Step {
	list := wf.Steps
	for i := 0; i < len(c); i += 2 {
		if c[i] < 0 || c[i] >= len(list) {
			return nil
		}
		if i == len(c)-1 {
			return list[c[i]]
		}
		list = listAt(wf, c[:i+3])
	}
	return nil
}

// execution is one step job's view of its run.
type execution struct {
	e    *Engine
	job  *river.Job[stepArgs]
	run  *store.WorkflowRun
	wf   *manifest.Workflow
	rows map[string]*store.WorkflowStep
	n    int // rows loaded: the next step's seq
	// written are the rows this job writes with its result.
	written []*store.WorkflowStep
}

func (w *stepWorker) Work(ctx context.Context, job *river.Job[stepArgs]) error {
	e := w.e
	run, err := e.cfg.Runs.Run(ctx, job.Args.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if run.Status.Done() {
		return nil
	}
	x := &execution{e: e, job: job, run: run, rows: map[string]*store.WorkflowStep{}}
	steps, err := e.cfg.Runs.RunSteps(ctx, run.ID)
	if err != nil {
		return err
	}
	for _, s := range steps {
		x.rows[s.Path] = s
	}
	x.n = len(steps)
	wf, ok := e.catalog().Workflow(run.WorkflowID)
	switch {
	case !ok:
		return x.failRun(ctx, fmt.Sprintf("workflow %s is no longer loaded", run.WorkflowID))
	case wf.Hash != run.WorkflowHash:
		return x.failRun(ctx, fmt.Sprintf("the file of workflow %s (%s) changed while the run was in progress; runs finish on the version they began with or not at all", wf.ID, wf.Source))
	}
	x.wf = wf
	pos, err := resolve(wf, x.rows, job.Args.Cursor)
	if err != nil {
		return x.failRun(ctx, err.Error())
	}
	if row := x.rows[pos.path]; row != nil && (row.Status == store.StepSucceeded || row.Status == store.StepFailed) {
		// Recorded already (a job made again after its result was
		// committed cannot happen, as both commit together; this is
		// defence): go on from there without repeating it.
		return x.next(ctx, pos, row, nil)
	}
	deadline := run.CreatedAt.Add(e.cfg.Limits.MaxRunDuration)
	if !e.cfg.Now().Before(deadline) {
		return x.failRun(ctx, fmt.Sprintf("the run took longer than its maximum duration, %s (step %s had not finished)", e.cfg.Limits.MaxRunDuration, pos.path))
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return x.execute(ctx, pos)
}

// row returns the row of pos, new or as recorded by an earlier attempt.
func (x *execution) row(pos position) *store.WorkflowStep {
	if r := x.rows[pos.path]; r != nil {
		c := *r
		return &c
	}
	r := &store.WorkflowStep{RunID: x.run.ID, Path: pos.path, Seq: x.n, StepID: pos.step.ID, Kind: string(pos.step.Kind),
		Status: store.StepRunning, StartedAt: time.Now().UTC().Truncate(time.Millisecond)}
	x.n++
	return r
}

func (x *execution) execute(ctx context.Context, pos position) error {
	s := pos.step
	row := x.row(pos)
	vars := x.vars(pos)
	start := time.Now()
	switch s.Kind {
	case manifest.StepCondition:
		ok, err := s.If.EvalBool(ctx, vars)
		if err != nil {
			return x.stepFailed(ctx, pos, row, start, "if: "+err.Error())
		}
		return x.stepDone(ctx, pos, row, start, map[string]any{"result": ok})
	case manifest.StepLoop:
		items, err := s.Foreach.EvalList(ctx, vars)
		if err != nil {
			return x.stepFailed(ctx, pos, row, start, "foreach: "+err.Error())
		}
		maxItems := s.MaxItems
		if maxItems <= 0 {
			maxItems = manifest.DefaultLoopMaxItems
		}
		if len(items) > maxItems {
			return x.stepFailed(ctx, pos, row, start, fmt.Sprintf("foreach: the list has %d items, more than the loop's maxItems (%d); filter or slice the list, or raise maxItems (at most %d)",
				len(items), maxItems, manifest.MaxLoopMaxItems))
		}
		return x.stepDone(ctx, pos, row, start, loopOutput{List: items})
	case manifest.StepResponse:
		var body any
		if s.ResponseBody != nil {
			v, err := s.ResponseBody.Eval(ctx, vars)
			if err != nil {
				return x.stepFailed(ctx, pos, row, start, "body: "+err.Error())
			}
			body = v
		}
		status := s.Status
		if status == 0 {
			status = http.StatusOK
		}
		out := map[string]any{"status": status, "body": body}
		b, err := x.encode(out)
		if err != nil {
			return x.stepFailed(ctx, pos, row, start, err.Error())
		}
		row.Status, row.Output, row.Attempts = store.StepSucceeded, b, row.Attempts+1
		row.FinishedAt = time.Now().UTC().Truncate(time.Millisecond)
		x.e.observeStep(x.wf.ID, s.Kind, "succeeded", time.Since(start))
		rb, _ := json.Marshal(body)
		x.run.Status, x.run.ResponseStatus, x.run.Response = store.RunSucceeded, status, rb
		x.run.FinishedAt = row.FinishedAt
		x.written = append(x.written, row)
		return x.e.finish(ctx, x.run, x.written, nil, x.job)
	case manifest.StepAction, manifest.StepRequest:
		return x.call(ctx, pos, row, vars)
	}
	return x.stepFailed(ctx, pos, row, start, "unknown step kind "+string(s.Kind))
}

// call makes one attempt of an action or request step.
func (x *execution) call(ctx context.Context, pos position, row *store.WorkflowStep, vars manifest.ExprVars) error {
	s := pos.step
	row.Attempts++
	row.Status = store.StepRunning
	start := time.Now()
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = manifest.DefaultWorkflowStepTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	status, body, retryable, err := x.send(actx, s, vars)
	if body != nil || err != nil {
		// The answer and the error are stored: without the user's secrets.
		in, _ := x.e.catalog().Lookup(x.wf.Integration)
		sec := x.secretsOf(ctx, in)
		body, err = sec.value(body), sec.error(err)
	}
	if err == nil && actx.Err() != nil {
		err, retryable = fmt.Errorf("no answer within the step's timeout (%s)", timeout), true
	}
	if err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		err, retryable = fmt.Errorf("%w (the step's timeout is %s)", err, timeout), true
	}
	if err != nil && ctx.Err() != nil {
		row.Status, row.Error = store.StepFailed, "cut short when the run reached its maximum duration: "+err.Error()
		row.FinishedAt = time.Now().UTC().Truncate(time.Millisecond)
		x.written = append(x.written, row)
		return x.failRun(ctx, fmt.Sprintf("the run took longer than its maximum duration, %s (step %s was cut short: %v)",
			x.e.cfg.Limits.MaxRunDuration, pos.path, err))
	}
	if err != nil {
		attempts := max(s.Retry.Attempts, 1)
		if retryable && row.Attempts < attempts && ctx.Err() == nil {
			row.Status, row.Error = store.StepRetrying, fmt.Sprintf("attempt %d of %d: %s", row.Attempts, attempts, err.Error())
			x.e.observeStep(x.wf.ID, s.Kind, "retried", time.Since(start))
			if serr := x.e.cfg.Runs.SaveRun(ctx, nil, []*store.WorkflowStep{row}, nil); serr != nil {
				return serr
			}
			return fmt.Errorf("step %s: %s", pos.path, row.Error) // River retries after NextRetry
		}
		msg := err.Error()
		if row.Attempts > 1 {
			msg = fmt.Sprintf("%s (after %d attempts)", msg, row.Attempts)
		}
		return x.stepFailed(ctx, pos, row, start, msg)
	}
	return x.stepDone(ctx, pos, row, start, map[string]any{"status": status, "body": redact(body)})
}

// send renders and sends the step's request through the proxy. It
// returns the API's status and body, or an error and whether it may be
// retried: a transport error, a 429 or a 5xx may; a 4xx may not.
func (x *execution) send(ctx context.Context, s *manifest.Step, vars manifest.ExprVars) (int, any, bool, error) {
	if x.e.cfg.Actions == nil || x.e.cfg.Proxy == nil {
		return 0, nil, false, errors.New("this gateway cannot call APIs (it runs without a store)")
	}
	in, ok := x.e.catalog().Lookup(x.wf.Integration)
	if !ok {
		return 0, nil, false, fmt.Errorf("integration %s is not loaded", x.wf.Integration)
	}
	if x.run.CredentialID != "" {
		// The connection the trigger chose; gone since, the step fails
		// not_connected rather than use another account.
		ctx = connection.WithCredential(ctx, x.run.CredentialID)
	}
	if s.Kind == manifest.StepAction {
		var params map[string]any
		if s.Parameters != nil {
			v, err := s.Parameters.Eval(ctx, vars)
			if err != nil {
				return 0, nil, false, fmt.Errorf("parameters: %w", err)
			}
			if params, err = asParams(v); err != nil {
				return 0, nil, false, err
			}
		}
		var action *manifest.Action
		for _, a := range in.Actions {
			if a.Name == s.Action {
				action = a
			}
		}
		if action == nil {
			return 0, nil, false, fmt.Errorf("integration %s has no action %q", in.ID, s.Action)
		}
		out, aerr := x.e.cfg.Actions.Run(ctx, x.run.ProjectID, x.run.UserID, actions.Tool{Integration: in, Action: action}, params)
		if aerr != nil {
			return 0, nil, retryableStatus(aerr.Status), fmt.Errorf("%s: %s", aerr.Code, aerr.Message)
		}
		var body any
		if out.Output != nil {
			_ = json.Unmarshal(out.Output, &body)
		} else {
			body = string(out.Text)
		}
		return answer(out.Status, body)
	}
	call, err := x.request(ctx, s, vars)
	if err != nil {
		return 0, nil, false, err
	}
	res := x.e.cfg.Proxy.Do(ctx, proxy.Request{ProjectID: x.run.ProjectID, UserID: x.run.UserID, Integration: in, Path: call.Path}, call, x.e.cfg.Limits.MaxPayloadBytes)
	if res.GatewayError {
		var ge struct{ Code, Message string }
		_ = json.Unmarshal(res.Body, &ge)
		return 0, nil, retryableStatus(res.Status), fmt.Errorf("%s: %s", ge.Code, ge.Message)
	}
	if res.Truncated {
		return 0, nil, false, fmt.Errorf("the answer is longer than %d bytes, the most a step's output may have", x.e.cfg.Limits.MaxPayloadBytes)
	}
	var body any
	if json.Valid(res.Body) && len(bytes.TrimSpace(res.Body)) > 0 {
		_ = json.Unmarshal(res.Body, &body)
	} else {
		body = string(res.Body)
	}
	return answer(res.Status, body)
}

func answer(status int, body any) (int, any, bool, error) {
	if status >= 400 {
		return status, body, retryableStatus(status), fmt.Errorf("the API answered %d: %.300s", status, excerpt(redact(body)))
	}
	return status, body, false, nil
}

func retryableStatus(status int) bool { return status == http.StatusTooManyRequests || status >= 500 }

func excerpt(body any) string {
	if s, ok := body.(string); ok {
		return s
	}
	b, _ := json.Marshal(body)
	return string(b)
}

// asParams turns an evaluated parameters object into what actions.Run
// takes (JSON decoded with UseNumber).
func asParams(v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("parameters must be an object, not %s", excerpt(v))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	return out, dec.Decode(&out)
}

// request renders a request step.
func (x *execution) request(ctx context.Context, s *manifest.Step, vars manifest.ExprVars) (proxy.Call, error) {
	call := proxy.Call{Method: s.Method, Header: http.Header{"Accept": {"application/json"}}}
	if call.Method == "" {
		call.Method = http.MethodGet
	}
	if s.Path != nil {
		v, err := s.Path.Eval(ctx, vars)
		if err != nil {
			return call, fmt.Errorf("path: %w", err)
		}
		p, ok := v.(string)
		if !ok {
			return call, fmt.Errorf("path: must be a string, not %s", excerpt(v))
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		call.Path = p
	} else {
		call.Path = "/"
	}
	q := url.Values{}
	for k, sv := range s.Query {
		v, err := sv.Eval(ctx, vars)
		if err != nil {
			return call, fmt.Errorf("query %s: %w", k, err)
		}
		q.Set(k, scalar(v))
	}
	call.Query = q.Encode()
	for k, sv := range s.Headers {
		v, err := sv.Eval(ctx, vars)
		if err != nil {
			return call, fmt.Errorf("header %s: %w", k, err)
		}
		call.Header.Set(k, scalar(v))
	}
	if s.Body != nil {
		v, err := s.Body.Eval(ctx, vars)
		if err != nil {
			return call, fmt.Errorf("body: %w", err)
		}
		if call.Body, err = json.Marshal(v); err != nil {
			return call, fmt.Errorf("body: %w", err)
		}
		if call.Header.Get("Content-Type") == "" {
			call.Header.Set("Content-Type", "application/json; charset=utf-8")
		}
	}
	return call, nil
}

func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'f', -1, 64)
	case nil:
		return ""
	}
	return excerpt(v)
}

// encode is a step output as stored, within the payload limit.
func (x *execution) encode(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("the output is not JSON: %w", err)
	}
	if int64(len(b)) > x.e.cfg.Limits.MaxPayloadBytes {
		return nil, fmt.Errorf("the output is %d bytes, more than the %d a step's output may have", len(b), x.e.cfg.Limits.MaxPayloadBytes)
	}
	return b, nil
}

// stepDone records a successful step and goes on.
func (x *execution) stepDone(ctx context.Context, pos position, row *store.WorkflowStep, start time.Time, out any) error {
	b, err := x.encode(out)
	if err != nil {
		return x.stepFailed(ctx, pos, row, start, err.Error())
	}
	if pos.step.Kind != manifest.StepAction && pos.step.Kind != manifest.StepRequest {
		row.Attempts++
	}
	row.Status, row.Output, row.Error = store.StepSucceeded, b, ""
	if pos.step.Kind == manifest.StepLoop {
		row.Status = store.StepRunning // until its last iteration is done
	}
	row.FinishedAt = time.Now().UTC().Truncate(time.Millisecond)
	x.e.observeStep(x.wf.ID, pos.step.Kind, "succeeded", time.Since(start))
	return x.next(ctx, pos, row, out)
}

// stepFailed records a failed step: the run goes on with {"error"} as
// its output when the step continues on error, else it fails.
func (x *execution) stepFailed(ctx context.Context, pos position, row *store.WorkflowStep, start time.Time, msg string) error {
	if pos.step.Kind != manifest.StepAction && pos.step.Kind != manifest.StepRequest {
		row.Attempts++
	}
	row.Status, row.Error = store.StepFailed, msg
	row.FinishedAt = time.Now().UTC().Truncate(time.Millisecond)
	x.e.observeStep(x.wf.ID, pos.step.Kind, "failed", time.Since(start))
	if pos.step.ContinueOnError {
		row.Output, _ = json.Marshal(map[string]any{"error": msg})
		return x.next(ctx, pos, row, nil)
	}
	x.written = append(x.written, row)
	return x.failRun(ctx, fmt.Sprintf("step %s failed: %s", pos.path, msg))
}

func (x *execution) failRun(ctx context.Context, msg string) error {
	ctx = context.WithoutCancel(ctx) // the run's deadline may have passed
	x.run.Status, x.run.Error, x.run.FinishedAt = store.RunFailed, msg, time.Now().UTC().Truncate(time.Millisecond)
	return x.e.finish(ctx, x.run, x.written, nil, x.job)
}

// next records row and enqueues what comes after pos, or ends the run.
func (x *execution) next(ctx context.Context, pos position, row *store.WorkflowStep, out any) error {
	x.rows[row.Path] = row
	x.written = append(x.written, row)
	c := clone(x.job.Args.Cursor)
	var nextC []int
	switch {
	case pos.step.Kind == manifest.StepCondition && row.Status == store.StepSucceeded:
		var o struct{ Result bool }
		_ = json.Unmarshal(row.Output, &o)
		branch, list := 0, pos.step.Then
		if !o.Result {
			branch, list = 1, pos.step.Else
		}
		if len(list) > 0 {
			nextC = append(c, branch, 0)
		}
	case pos.step.Kind == manifest.StepLoop && row.Status == store.StepRunning:
		if items, _ := loopList(row); len(items) > 0 {
			nextC = append(c, 0, 0)
		} else {
			x.closeLoop(pos.step, pos.path, row, 0)
		}
	}
	if nextC == nil {
		nextC = x.advance(c)
	}
	if nextC == nil {
		x.run.Status, x.run.FinishedAt = store.RunSucceeded, time.Now().UTC().Truncate(time.Millisecond)
		return x.e.finish(ctx, x.run, x.written, nil, x.job)
	}
	params := []river.InsertManyParams{{Args: stepArgs{RunID: x.run.ID, WorkflowID: x.run.WorkflowID, Cursor: nextC}}}
	return x.e.finish(ctx, nil, x.written, params, x.job)
}

// advance returns the cursor after c, closing the loops it leaves
// (their rows get their items), or nil at the end of the run.
func (x *execution) advance(c []int) []int {
	for {
		n := len(c)
		if c[n-1]+1 < len(listAt(x.wf, c)) {
			next := clone(c)
			next[n-1]++
			return next
		}
		if n == 1 {
			return nil
		}
		parent, sel := c[:n-2], c[n-2]
		ps := stepAtCursor(x.wf, parent)
		if ps.Kind == manifest.StepLoop {
			loopPath := pathOf(x.wf, parent)
			row := x.rows[loopPath]
			items, _ := loopList(row)
			if sel+1 < len(items) {
				return append(clone(parent), sel+1, 0)
			}
			x.closeLoop(ps, loopPath, row, len(items))
		}
		c = parent
	}
}

// closeLoop turns a loop's row into its final output: per iteration, its
// inner steps' outputs by id.
func (x *execution) closeLoop(s *manifest.Step, loopPath string, row *store.WorkflowStep, count int) {
	prefix := strings.TrimSuffix(loopPath, s.ID)
	items := make([]map[string]any, count)
	for i := range items {
		items[i] = map[string]any{}
		ip := prefix + s.ID + "/" + strconv.Itoa(i) + "/"
		for p, r := range x.rows {
			if rest, ok := strings.CutPrefix(p, ip); ok && !strings.Contains(rest, "/") && r.Output != nil && r.Status != store.StepRunning {
				var v any
				_ = json.Unmarshal(r.Output, &v)
				items[i][r.StepID] = v
			}
		}
	}
	c := *row
	c.Status = store.StepSucceeded
	c.Output, _ = json.Marshal(map[string]any{"items": items})
	c.FinishedAt = time.Now().UTC().Truncate(time.Millisecond)
	x.rows[loopPath] = &c
	x.written = append(x.written, &c)
}

// vars are what expressions at pos see.
func (x *execution) vars(pos position) manifest.ExprVars {
	steps := map[string]any{}
	scopes := []string{""}
	prefix := ""
	for _, f := range pos.frames {
		prefix += f.loop.ID + "/" + strconv.Itoa(f.index) + "/"
		scopes = append(scopes, prefix)
	}
	for _, scope := range scopes {
		for p, r := range x.rows {
			rest, ok := strings.CutPrefix(p, scope)
			if !ok || strings.Contains(rest, "/") || r.Output == nil || r.Status == store.StepRunning || r.Status == store.StepRetrying {
				continue
			}
			var v any
			_ = json.Unmarshal(r.Output, &v)
			steps[r.StepID] = v
		}
	}
	var trigger, settings any
	_ = json.Unmarshal(x.run.Trigger, &trigger)
	_ = json.Unmarshal(x.run.Settings, &settings)
	if settings == nil {
		settings = map[string]any{}
	}
	vars := manifest.ExprVars{manifest.VarTrigger: trigger, manifest.VarSteps: steps, manifest.VarSettings: settings,
		manifest.VarUser: map[string]any{"id": x.run.UserID}}
	for _, f := range pos.frames {
		as := f.loop.As
		if as == "" {
			as = "item"
		}
		vars[as], vars[manifest.VarIndex] = f.item, float64(f.index)
	}
	return vars
}
