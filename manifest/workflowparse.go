package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/plugboardhq/plugboard/schemas"
)

var workflowSchema = lazySchema(schemas.WorkflowURL, schemas.Workflow)

// IsWorkflowFile reports whether a folder entry name is a workflow file:
// *.workflow.yaml or *.workflow.yml (a manifest file by IsManifestFile
// too, which LoadFiles tells apart with this).
func IsWorkflowFile(name string) bool {
	if !IsManifestFile(name) {
		return false
	}
	return strings.HasSuffix(strings.ToLower(strings.TrimSuffix(name, filepath.Ext(name))), ".workflow")
}

// LifecycleEvents are the connection events a lifecycle trigger may name:
// the webhook event types.
var LifecycleEvents = []string{"connection.created", "connection.reconnected", "connection.deleted",
	"connection.refresh_failed", "connection.health_changed", "connection.test_failed"}

// reservedLocals are the names a loop's variable may not take.
var reservedLocals = []string{VarTrigger, VarSteps, VarSettings, VarUser, VarIndex}

// cronParser reads schedule.cron: five fields or a descriptor (@daily).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a schedule's cron expression (five fields or a
// descriptor such as @daily; no @every, no TZ= prefix) in loc: what the
// engine schedules with, checked here first.
func ParseCron(spec string, loc *time.Location) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ="):
		return nil, errors.New("a time zone cannot be written in the cron expression")
	case strings.HasPrefix(spec, "@every"):
		return nil, errors.New("@every is not supported")
	}
	if loc != nil && loc != time.UTC {
		spec = "CRON_TZ=" + loc.String() + " " + spec
	}
	return cronParser.Parse(spec)
}

// ParseWorkflow validates one workflow file on its own and compiles it.
// What depends on the rest of the folder (the integration and its actions,
// ids unique across files) is checked by LoadFiles.
func ParseWorkflow(file string, data []byte) (*Workflow, Problems) {
	d, probs := parseDocument(file, data)
	if probs != nil {
		for i, p := range probs {
			// parseDocument speaks of manifests.
			switch {
			case p.Message == "file is empty":
				probs[i].Hint = "a workflow needs at least id, title, integration, trigger and steps"
			case strings.HasPrefix(p.Message, "file holds more than one YAML document") || strings.HasPrefix(p.Message, "invalid YAML after the first document"):
				probs[i].Hint = "put each workflow in its own file"
			case strings.HasPrefix(p.Message, "file contains a NUL byte"):
				probs[i].Message = "file contains a NUL byte; workflows are UTF-8 text"
			case strings.HasSuffix(p.Message, "for a manifest"):
				probs[i].Message = strings.TrimSuffix(p.Message, "manifest") + "workflow"
				probs[i].Hint = "split it into several workflows"
			}
		}
		return nil, probs
	}
	schemaProbs := checkSchema(d, workflowSchema)
	for _, p := range schemaProbs {
		if p.Path == "" || p.Path == "trigger" || p.Path == "steps" {
			sortProblems(schemaProbs)
			return nil, schemaProbs
		}
	}
	root, _ := d.value.(map[string]any)
	if root == nil {
		sortProblems(schemaProbs)
		return nil, schemaProbs
	}
	c := &wfCompiler{d: d, data: data, ids: map[string]string{}, order: map[string]int{}}
	wf := c.compile(root)
	if len(schemaProbs) > 0 {
		for _, p := range c.probs {
			if p.Severity == Error && !overlaps(p.Path, schemaProbs) {
				schemaProbs = append(schemaProbs, p)
			}
		}
		sortProblems(schemaProbs)
		return nil, schemaProbs
	}
	sortProblems(c.probs)
	if c.probs.HasErrors(false) {
		return nil, c.probs
	}
	sum := sha256.Sum256(data)
	wf.Hash = hex.EncodeToString(sum[:])
	wf.Source = file
	wf.Warnings = c.probs
	return wf, c.probs
}

type wfCompiler struct {
	d       *document
	data    []byte
	probs   Problems
	trig    TriggerType
	count   int               // steps in the tree
	ids     map[string]string // step id -> pointer of its first use
	order   map[string]int    // step id -> its place in the tree, depth first from 1
	current int               // the place of the step being compiled
	exprs   []located         // every expression, checked once all step ids are known
}

// located is an expression with where its source starts in the file.
type located struct {
	expr   *Expr
	ptr    string
	offset int // characters before the expression in the YAML value ("=" and spaces)
	step   int // the place of its step in the tree
}

func (c *wfCompiler) errorf(ptr, hint, format string, args ...any) {
	c.probs = append(c.probs, c.d.problem(ptr, fmt.Sprintf(format, args...), hint))
}

func (c *wfCompiler) keyErrorf(ptr, hint, format string, args ...any) {
	c.probs = append(c.probs, c.d.keyProblem(ptr, fmt.Sprintf(format, args...), hint))
}

func (c *wfCompiler) pos(ptr string) position {
	l, col := c.d.pos(ptr)
	return position{l, col}
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func (c *wfCompiler) compile(root map[string]any) *Workflow {
	wf := &Workflow{ID: str(root, "id"), Title: str(root, "title"), Description: str(root, "description"),
		Integration: str(root, "integration"), idPos: c.pos("/id"), integrationPos: c.pos("/integration")}
	wf.EnabledByDefault, _ = root["enabledByDefault"].(bool)
	if t, ok := root["trigger"].(map[string]any); ok {
		wf.Trigger = c.trigger(t)
	}
	settings := c.settings(asSlice(root["settings"]))
	wf.Settings = settings
	wf.Steps = c.steps("/steps", asSlice(root["steps"]), nil, false)
	if c.count > MaxWorkflowSteps {
		c.errorf("/steps", "split the work into several workflows, or loop over a list", "the workflow has %d steps; at most %d (counting those inside conditions and loops)", c.count, MaxWorkflowSteps)
	}
	c.checkRefs(settings)
	return wf
}

func (c *wfCompiler) trigger(t map[string]any) Trigger {
	var set []string
	for _, k := range []string{"request", "event", "lifecycle", "schedule"} {
		if _, ok := t[k]; ok {
			set = append(set, k)
		}
	}
	switch len(set) {
	case 0:
		c.errorf("/trigger", "e.g. request: {}, event: lead.created, lifecycle: [connection.created] or schedule: {cron: \"0 9 * * 1-5\"}", "the trigger names none of request, event, lifecycle or schedule")
		return Trigger{}
	case 1:
	default:
		// Report the fields after the first, in file order.
		sort.SliceStable(set, func(i, j int) bool {
			al, ac := c.d.keyPos("/trigger/" + set[i])
			bl, bc := c.d.keyPos("/trigger/" + set[j])
			return al < bl || al == bl && ac < bc
		})
		for _, k := range set[1:] {
			c.keyErrorf("/trigger/"+k, "a workflow has one trigger; make another workflow for the other", "the trigger is already %s; it cannot also be %s", set[0], k)
		}
	}
	tr := Trigger{Type: TriggerType(set[0])}
	c.trig = tr.Type
	switch tr.Type {
	case TriggerEvent:
		tr.Event = str(t, "event")
	case TriggerLifecycle:
		for _, e := range asSlice(t["lifecycle"]) {
			if s, ok := e.(string); ok {
				tr.Lifecycle = append(tr.Lifecycle, s)
			}
		}
	case TriggerSchedule:
		s, _ := t["schedule"].(map[string]any)
		tr.Cron = str(s, "cron")
		tr.Timezone = time.UTC
		if tz := str(s, "timezone"); tz != "" {
			loc, err := loadLocation(tz)
			if err != nil {
				c.errorf("/trigger/schedule/timezone", "an IANA time zone name, e.g. Europe/Paris or America/New_York", "unknown time zone %q", tz)
			} else {
				tr.Timezone = loc
			}
		}
		if tr.Cron != "" {
			if _, err := ParseCron(tr.Cron, nil); err != nil {
				hint := "five fields: minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\""
				switch {
				case strings.HasPrefix(strings.TrimSpace(tr.Cron), "@every"):
					hint = "write it as cron fields, e.g. \"*/15 * * * *\" for every 15 minutes"
				case strings.Contains(tr.Cron, "TZ="):
					hint = "set trigger.schedule.timezone instead"
				}
				c.errorf("/trigger/schedule/cron", hint, "invalid cron expression %q: %v", tr.Cron, err)
			}
		}
	}
	return tr
}

// loadLocation is time.LoadLocation without "Local" (the gateway machine's
// zone, which a file in git should not depend on).
func loadLocation(name string) (*time.Location, error) {
	if name == "Local" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, errors.New("unknown time zone")
	}
	return time.LoadLocation(name)
}

func (c *wfCompiler) settings(raws []any) []WorkflowSetting {
	var out []WorkflowSetting
	seen := map[string]bool{}
	for i, r := range raws {
		m, _ := r.(map[string]any)
		if m == nil {
			continue
		}
		ptr := "/settings/" + strconv.Itoa(i)
		s := WorkflowSetting{Key: str(m, "key"), Label: str(m, "label"), Help: str(m, "help"), Type: str(m, "type")}
		s.Required, _ = m["required"].(bool)
		if seen[s.Key] {
			c.errorf(ptr+"/key", "setting keys must be unique within the workflow", "setting %q is declared twice", s.Key)
			continue
		}
		seen[s.Key] = true
		for _, e := range asSlice(m["enum"]) {
			if v, ok := e.(string); ok {
				s.Enum = append(s.Enum, v)
			}
		}
		if len(s.Enum) > 0 && s.Type != "string" {
			c.keyErrorf(ptr+"/enum", "enum applies to string settings", "a %s setting has no enum", s.Type)
		}
		if def, ok := m["default"]; ok && def != nil {
			switch v := def.(type) {
			case string:
				if s.Type != "string" {
					c.errorf(ptr+"/default", "", "default %q is not a %s", v, s.Type)
				} else if len(s.Enum) > 0 && !contains(s.Enum, v) {
					c.errorf(ptr+"/default", "one of: "+strings.Join(s.Enum, ", "), "default %q is not one of the setting's enum values", v)
				}
				s.Default = v
			case bool:
				if s.Type != "boolean" {
					c.errorf(ptr+"/default", "", "default %v is not a %s", v, s.Type)
				}
				s.Default = v
			case json.Number:
				if s.Type != "number" {
					c.errorf(ptr+"/default", "", "default %v is not a %s", v, s.Type)
				}
				f, _ := v.Float64()
				s.Default = f
			case float64:
				if s.Type != "number" {
					c.errorf(ptr+"/default", "", "default %v is not a %s", v, s.Type)
				}
				s.Default = v
			default:
				c.errorf(ptr+"/default", "", "default must be a %s", s.Type)
			}
		}
		out = append(out, s)
	}
	return out
}

// stepFields are the fields that belong to each kind of step, besides
// id and title.
var stepFields = map[StepKind][]string{
	StepAction:    {"action", "parameters", "retry", "timeout", "continueOnError"},
	StepRequest:   {"request", "retry", "timeout", "continueOnError"},
	StepCondition: {"if", "then", "else"},
	StepLoop:      {"foreach", "as", "maxItems", "do"},
	StepResponse:  {"response"},
}

// stepKeys are the fields that say what a step is.
var stepKeys = []struct {
	field string
	kind  StepKind
}{{"action", StepAction}, {"request", StepRequest}, {"if", StepCondition}, {"foreach", StepLoop}, {"response", StepResponse}}

func (c *wfCompiler) steps(ptr string, raws []any, locals []string, inLoop bool) []*Step {
	var out []*Step
	for i, r := range raws {
		m, _ := r.(map[string]any)
		if m == nil {
			continue
		}
		if s := c.step(ptr+"/"+strconv.Itoa(i), m, locals, inLoop); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (c *wfCompiler) step(ptr string, m map[string]any, locals []string, inLoop bool) *Step {
	c.count++
	outer := c.current
	c.current = c.count
	defer func() { c.current = outer }()
	s := &Step{ID: str(m, "id"), Title: str(m, "title"), ptr: ptr}
	if s.ID != "" {
		if prev, dup := c.ids[s.ID]; dup {
			c.errorf(ptr+"/id", "step ids must be unique in the whole workflow, inside conditions and loops too", "step id %q is already used at %s", s.ID, jsonPath(prev))
		} else {
			c.ids[s.ID] = ptr
			c.order[s.ID] = c.count
		}
	}
	var kinds []string
	for _, k := range stepKeys {
		if _, ok := m[k.field]; ok {
			if len(kinds) == 0 {
				s.Kind = k.kind
			}
			kinds = append(kinds, k.field)
		}
	}
	switch {
	case len(kinds) == 0:
		c.errorf(ptr, "a step has one of action, request, if, foreach or response", "step %q does nothing", s.ID)
		return nil
	case len(kinds) > 1:
		c.keyErrorf(ptr+"/"+kinds[1], "split it into two steps", "step %q has both %s and %s; a step does one thing", s.ID, kinds[0], kinds[1])
		return nil
	}
	allowed := stepFields[s.Kind]
	for _, f := range sortedKeys(m) {
		if f == "id" || f == "title" || contains(allowed, f) || !isStepField(f) {
			continue
		}
		c.keyErrorf(ptr+"/"+f, "it belongs to "+ownerOf(f)+" steps", "%q does not apply to %s steps", f, kinds[0])
	}
	switch s.Kind {
	case StepAction, StepRequest:
		c.callOptions(ptr, m, s)
		if s.Kind == StepAction {
			c.action(ptr, m, s, locals)
		} else {
			c.request(ptr+"/request", m["request"], s, locals)
		}
	case StepCondition:
		s.If = c.expr(ptr+"/if", str(m, "if"), 0, locals)
		if _, ok := m["then"]; !ok {
			c.errorf(ptr, "add then: with the steps to run when the condition is true", "an if step needs then")
		}
		s.Then = c.steps(ptr+"/then", asSlice(m["then"]), locals, inLoop)
		s.Else = c.steps(ptr+"/else", asSlice(m["else"]), locals, inLoop)
	case StepLoop:
		s.Foreach = c.expr(ptr+"/foreach", str(m, "foreach"), 0, locals)
		s.As = "item"
		if as := str(m, "as"); as != "" {
			s.As = as
		}
		if contains(reservedLocals, s.As) {
			c.errorf(ptr+"/as", "choose another name, e.g. item or issue", "%q is already a variable of every expression", s.As)
		} else if contains(locals, s.As) {
			c.errorf(ptr+"/as", "an inner loop needs its own name, e.g. as: inner", "%q is already the variable of an enclosing loop", s.As)
		}
		s.MaxItems = DefaultLoopMaxItems
		if n, ok := m["maxItems"].(json.Number); ok {
			if v, err := n.Int64(); err == nil {
				s.MaxItems = int(v)
			}
		}
		if s.MaxItems < 1 || s.MaxItems > MaxLoopMaxItems {
			c.errorf(ptr+"/maxItems", "", "maxItems %d is out of bounds: 1 to %d", s.MaxItems, MaxLoopMaxItems)
		}
		if _, ok := m["do"]; !ok {
			c.errorf(ptr, "add do: with the steps to run for each item", "a foreach step needs do")
		}
		inner := append(append([]string(nil), locals...), s.As)
		if !contains(inner, VarIndex) {
			inner = append(inner, VarIndex)
		}
		s.Do = c.steps(ptr+"/do", asSlice(m["do"]), inner, true)
	case StepResponse:
		if c.trig != TriggerRequest && c.trig != "" {
			c.keyErrorf(ptr+"/response", "only a request trigger (the SDK's workflow() call) waits for an answer", "a response step answers a request, but this workflow's trigger is %s", c.trig)
		}
		if inLoop {
			c.keyErrorf(ptr+"/response", "respond after the loop", "a response step cannot be inside a loop")
		}
		r, _ := m["response"].(map[string]any)
		s.Status = 200
		if n, ok := r["status"].(json.Number); ok {
			if v, err := n.Int64(); err == nil {
				s.Status = int(v)
			}
		}
		if b, ok := r["body"]; ok {
			s.ResponseBody = c.value(ptr+"/response/body", b, locals)
		}
	}
	return s
}

func isStepField(f string) bool {
	return ownerOf(f) != ""
}

func ownerOf(f string) string {
	var kinds []string
	for _, k := range stepKeys {
		if contains(stepFields[k.kind], f) {
			kinds = append(kinds, k.field)
		}
	}
	return strings.Join(kinds, " and ")
}

func (c *wfCompiler) callOptions(ptr string, m map[string]any, s *Step) {
	s.Retry = Retry{Attempts: DefaultWorkflowAttempts, Backoff: DefaultWorkflowBackoff}
	s.Timeout = DefaultWorkflowStepTimeout
	s.ContinueOnError, _ = m["continueOnError"].(bool)
	if r, ok := m["retry"].(map[string]any); ok {
		if n, ok := r["attempts"].(json.Number); ok {
			if v, err := n.Int64(); err == nil {
				s.Retry.Attempts = int(v)
			}
		}
		if b := str(r, "backoff"); b != "" {
			s.Retry.Backoff = c.duration(ptr+"/retry/backoff", b, DefaultWorkflowBackoff)
		}
	}
	if t := str(m, "timeout"); t != "" {
		s.Timeout = c.duration(ptr+"/timeout", t, DefaultWorkflowStepTimeout)
	}
}

func (c *wfCompiler) duration(ptr, src string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(src)
	if err != nil || d <= 0 {
		c.errorf(ptr, "e.g. 30s", "invalid duration %q", src)
		return def
	}
	if d > MaxWorkflowStepTimeout {
		c.errorf(ptr, "", "%s is longer than the %s allowed", src, strings.TrimSuffix(MaxWorkflowStepTimeout.String(), "0s"))
		return def
	}
	return d
}

func (c *wfCompiler) action(ptr string, m map[string]any, s *Step, locals []string) {
	s.Action = str(m, "action")
	s.actionPos = c.pos(ptr + "/action")
	p, ok := m["parameters"]
	if !ok || p == nil {
		return
	}
	s.paramsPos = c.pos(ptr + "/parameters")
	if text, isStr := p.(string); isStr && (!strings.HasPrefix(text, "=") || strings.HasPrefix(text, "==")) {
		c.errorf(ptr+"/parameters", "write the parameters as an object, or as one expression starting with = that gives one", "parameters must be an object")
		return
	}
	if obj, isObj := p.(map[string]any); isObj {
		s.paramKeys = sortedKeys(obj)
		s.paramKeyPos = map[string]position{}
		for _, k := range s.paramKeys {
			l, col := c.d.keyPos(ptr + "/parameters/" + escapePointer(k))
			s.paramKeyPos[k] = position{l, col}
		}
	}
	s.Parameters = c.value(ptr+"/parameters", p, locals)
}

func (c *wfCompiler) request(ptr string, v any, s *Step, locals []string) {
	r, _ := v.(map[string]any)
	if r == nil {
		return
	}
	s.Method = str(r, "method")
	if p, ok := r["path"].(string); ok {
		if strings.HasPrefix(p, "=") && !strings.HasPrefix(p, "==") {
			s.Path = c.value(ptr+"/path", p, locals)
		} else {
			if strings.HasPrefix(p, "==") {
				p = p[1:]
			}
			if msg, hint := checkStepPath(p); msg != "" {
				c.errorf(ptr+"/path", hint, "%s", msg)
			}
			s.Path = &StepValue{literal: p}
		}
	}
	if q, ok := r["query"].(map[string]any); ok {
		s.Query = map[string]*StepValue{}
		for _, name := range sortedKeys(q) {
			if sv := c.value(ptr+"/query/"+escapePointer(name), q[name], locals); sv != nil {
				s.Query[name] = sv
			}
		}
	}
	if h, ok := r["headers"].(map[string]any); ok {
		s.Headers = map[string]*StepValue{}
		for _, name := range sortedKeys(h) {
			hp := ptr + "/headers/" + escapePointer(name)
			if lower := strings.ToLower(name); managedHeaders[lower] || lower == "authorization" {
				c.keyErrorf(hp, "the gateway sets it; the credential comes from the manifest's api.authorization", "header %q cannot be set by a workflow", name)
				continue
			}
			if lit, isStr := h[name].(string); isStr && !strings.HasPrefix(lit, "=") && strings.IndexFunc(lit, isControl) >= 0 {
				c.errorf(hp, "write the value on one line", "value contains a control character (CR, LF, NUL …)")
				continue
			}
			if sv := c.value(hp, h[name], locals); sv != nil {
				s.Headers[name] = sv
			}
		}
	}
	if b, ok := r["body"]; ok {
		if s.Method == "GET" || s.Method == "DELETE" {
			c.keyErrorf(ptr+"/body", "send parameters of a "+s.Method+" in query", "a %s request has no body", s.Method)
			return
		}
		s.Body = c.value(ptr+"/body", b, locals)
	}
}

// checkStepPath checks a literal request path; a computed one is checked
// when the engine makes the request, by the proxy's rules.
func checkStepPath(p string) (msg, hint string) {
	const h = "a path relative to the integration's api.baseUrl, e.g. /user/repos"
	switch {
	case !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//"):
		return "must be a path starting with a single /", h
	case strings.Contains(p, "{{"):
		return "{{…}} templates are for manifests; a workflow computes values with expressions", "write the whole path as an expression, e.g. ='/repos/' + settings.repo"
	case strings.ContainsAny(p, "?#"):
		return "a request's path has no query or fragment", "put query parameters under query"
	case strings.IndexFunc(p, isControl) >= 0 || strings.ContainsRune(p, ' '):
		return "the path contains a space or control character", "percent-encode it"
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") || strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") {
			return "dot segments (. or ..) are not allowed in a path", h
		}
	}
	return "", ""
}

// value compiles a step value. Every expression in it is compiled on its
// own first, so that all their errors are reported, each where it is.
func (c *wfCompiler) value(ptr string, v any, locals []string) *StepValue {
	if !c.checkExprs(ptr, v, locals) {
		return nil
	}
	sv, err := CompileValue(normalize(v), locals)
	if err != nil { // not expected: every expression compiled above
		c.errorf(ptr+ValueErrorPointer(err), "", "%v", err)
		return nil
	}
	c.collect(ptr, v, sv)
	return sv
}

// checkExprs compiles the expressions of a YAML value, in document order,
// and reports whether they all compile.
func (c *wfCompiler) checkExprs(ptr string, v any, locals []string) bool {
	switch t := v.(type) {
	case string:
		if !strings.HasPrefix(t, "=") || strings.HasPrefix(t, "==") {
			return true
		}
		if _, err := CompileExpr(strings.TrimSpace(t[1:]), locals); err != nil {
			c.exprError(ptr, exprOffset(t), err)
			return false
		}
	case map[string]any:
		ok := true
		for _, k := range sortedKeys(t) {
			ok = c.checkExprs(ptr+"/"+escapePointer(k), t[k], locals) && ok
		}
		return ok
	case []any:
		ok := true
		for i, m := range t {
			ok = c.checkExprs(ptr+"/"+strconv.Itoa(i), m, locals) && ok
		}
		return ok
	}
	return true
}

// exprOffset is how many characters of a "=…" value come before its
// expression: the "=" and the spaces CompileValue trims.
func exprOffset(src string) int {
	rest := src[1:]
	return 1 + len([]rune(rest)) - len([]rune(strings.TrimLeftFunc(rest, unicode.IsSpace)))
}

// collect records the expressions of a compiled value with their place,
// walking the YAML value and the compiled one together.
func (c *wfCompiler) collect(ptr string, raw any, sv *StepValue) {
	switch sv.kind {
	case valueExpr:
		src, _ := raw.(string)
		c.exprs = append(c.exprs, located{expr: sv.expr, ptr: ptr, offset: exprOffset(src), step: c.current})
	case valueObject:
		m, _ := raw.(map[string]any)
		for k, sub := range sv.object {
			c.collect(ptr+"/"+escapePointer(k), m[k], sub)
		}
	case valueArray:
		l, _ := raw.([]any)
		for i, sub := range sv.array {
			if i < len(l) {
				c.collect(ptr+"/"+strconv.Itoa(i), l[i], sub)
			}
		}
	}
}

// normalize turns the document's json.Number into float64, the number
// type of JSON-like values.
func normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return float64(i)
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, m := range t {
			out[k] = normalize(m)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, m := range t {
			out[i] = normalize(m)
		}
		return out
	}
	return v
}

// expr compiles a bare expression (if, foreach).
func (c *wfCompiler) expr(ptr, src string, offset int, locals []string) *Expr {
	if src == "" {
		return nil
	}
	e, err := CompileExpr(src, locals)
	if err != nil {
		c.exprError(ptr, offset, err)
		return nil
	}
	c.exprs = append(c.exprs, located{expr: e, ptr: ptr, offset: offset, step: c.current})
	return e
}

func (c *wfCompiler) exprError(ptr string, offset int, err error) {
	var ee *ExprError
	if !errors.As(err, &ee) {
		c.errorf(ptr, "", "%v", err)
		return
	}
	for _, is := range ee.Issues {
		p := c.d.problem(ptr, "invalid expression: "+is.Message, exprHint(is.Message))
		p.Line, p.Column = c.exprPos(ptr, offset, is.Line, is.Column)
		c.probs = append(c.probs, p)
	}
}

func exprHint(msg string) string {
	if strings.HasPrefix(msg, "undeclared reference") {
		return "expressions see trigger, steps, settings and user, and in a loop its variable and index"
	}
	return ""
}

// exprPos maps a 1-based line and column of an expression to the file,
// exactly where the YAML value shows the expression's text as it is (a
// plain or quoted scalar without escapes, or a literal block), else to the
// start of the value.
func (c *wfCompiler) exprPos(ptr string, offset, line, col int) (int, int) {
	n := c.d.nodes[ptr]
	if n == nil || n.Kind != yaml.ScalarNode {
		return c.d.pos(ptr)
	}
	switch n.Style {
	case 0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line != 1 || strings.ContainsRune(n.Value, '\n') {
			break
		}
		quote := 0
		if n.Style != 0 {
			quote = 1
		}
		if n.Style == yaml.SingleQuotedStyle && strings.Contains(n.Value, "'") ||
			n.Style == yaml.DoubleQuotedStyle && strings.ContainsAny(n.Value, "\\\"") {
			break
		}
		// One past the end is where CEL reports an unexpected end.
		if text := c.line(n.Line); len([]rune(text))+1 >= n.Column+quote+offset+col-1 {
			return n.Line, n.Column + quote + offset + col - 1
		}
	case yaml.LiteralStyle:
		// The text starts on the line after the | indicator, indented as
		// its first line is.
		first := c.line(n.Line + 1)
		indent := len(first) - len(strings.TrimLeft(first, " "))
		fileLine := n.Line + line
		if line == 1 {
			col += offset
		}
		return fileLine, indent + col
	}
	return n.Line, n.Column
}

// line returns the file's line n (1-based), "" past the end.
func (c *wfCompiler) line(n int) string {
	lines := strings.SplitN(string(c.data), "\n", n+1)
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSuffix(lines[n-1], "\r")
}

// checkRefs checks every expression's steps.<id> and settings.<key>
// against the workflow's steps and settings.
func (c *wfCompiler) checkRefs(settings []WorkflowSetting) {
	keys := make([]string, len(settings))
	for i, s := range settings {
		keys[i] = s.Key
	}
	ids := make([]string, 0, len(c.ids))
	for id := range c.ids {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, l := range c.exprs {
		for _, r := range l.expr.refs {
			var msg, hint string
			switch {
			case r.root == VarSettings && !contains(keys, r.key):
				msg = fmt.Sprintf("settings.%s is not a declared setting", r.key)
				hint = didYouMean(r.key, keys)
				if hint == "" {
					hint = "declare it under settings"
				}
			case r.root == VarSteps && c.ids[r.key] == "":
				msg = fmt.Sprintf("steps.%s: there is no step %q", r.key, r.key)
				hint = didYouMean(r.key, ids)
			case r.root == VarSteps && c.order[r.key] == l.step:
				msg = fmt.Sprintf("steps.%s is this step's own output, which does not exist while it runs", r.key)
				hint = "refer to the steps before it"
			case r.root == VarSteps && c.order[r.key] > l.step:
				msg = fmt.Sprintf("steps.%s: step %q runs after this one, so its output does not exist yet", r.key, r.key)
				hint = "refer to the steps before it, or move the step"
			default:
				continue
			}
			p := c.d.problem(l.ptr, msg, hint)
			p.Line, p.Column = c.exprPos(l.ptr, l.offset, r.line, r.column)
			c.probs = append(c.probs, p)
		}
	}
}

// linkWorkflow checks a workflow against its integration (nil: not
// served): that it exists, and that its action steps name its actions
// with their parameters.
func linkWorkflow(wf *Workflow, in *Integration, integrations []string, failed []string) Problems {
	var out Problems
	at := func(pos position, ptr, msg, hint string) {
		out = append(out, Problem{File: wf.Source, Line: pos.line, Column: pos.col, Path: jsonPath(ptr), Message: msg, Hint: hint, Severity: Error})
	}
	if in == nil {
		hint := didYouMean(wf.Integration, integrations)
		if hint == "" && len(failed) > 0 {
			hint = "fix the manifest that does not load: " + strings.Join(failed, ", ")
		} else if hint == "" {
			hint = "the id of a manifest in the same folder"
		}
		at(wf.integrationPos, "/integration", fmt.Sprintf("integration %q is not loaded", wf.Integration), hint)
		return out
	}
	actions := make(map[string]*Action, len(in.Actions))
	names := make([]string, 0, len(in.Actions))
	for _, a := range in.Actions {
		actions[a.Name] = a
		names = append(names, a.Name)
	}
	walkSteps(wf.Steps, func(s *Step) {
		if s.Kind != StepAction {
			return
		}
		a := actions[s.Action]
		if a == nil {
			hint := didYouMean(s.Action, names)
			switch {
			case hint != "":
			case len(names) == 0:
				hint = fmt.Sprintf("%s declares no actions; use a request step", filepath.Base(in.Source))
			default:
				hint = "its actions: " + strings.Join(names, ", ")
			}
			at(s.actionPos, s.ptr+"/action", fmt.Sprintf("integration %q has no action %q", in.ID, s.Action), hint)
			return
		}
		if s.Parameters == nil || s.Parameters.kind != valueObject {
			// One expression: checked against the action's schema when run.
			if s.Parameters == nil {
				for _, name := range sortedBoolKeys(a.required) {
					if a.required[name] {
						at(s.actionPos, s.ptr, fmt.Sprintf("action %s needs parameter %q", a.Name, name), "add parameters: with it")
					}
				}
			}
			return
		}
		for _, k := range s.paramKeys {
			if _, ok := a.required[k]; !ok {
				hint := didYouMean(k, sortedBoolKeys(a.required))
				if hint == "" {
					hint = "its parameters: " + strings.Join(sortedBoolKeys(a.required), ", ")
				}
				at(s.paramKeyPos[k], s.ptr+"/parameters/"+escapePointer(k), fmt.Sprintf("action %s has no parameter %q", a.Name, k), hint)
			}
		}
		for _, name := range sortedBoolKeys(a.required) {
			if a.required[name] && !contains(s.paramKeys, name) {
				at(s.paramsPos, s.ptr+"/parameters", fmt.Sprintf("action %s needs parameter %q", a.Name, name), "it is required")
			}
		}
	})
	return out
}

// walkSteps calls f for every step of the tree, depth first, in order.
func walkSteps(steps []*Step, f func(*Step)) {
	for _, s := range steps {
		f(s)
		walkSteps(s.Then, f)
		walkSteps(s.Else, f)
		walkSteps(s.Do, f)
	}
}
