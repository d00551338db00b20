package manifest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"google.golang.org/protobuf/types/known/structpb"
)

// Workflows compute values with CEL (the Common Expression Language, as
// Kubernetes uses it for admission rules): it has no loops, no I/O and no
// way to run code, its programs always terminate, and each evaluation is
// charged against a cost limit. An expression sees these variables:
//
//	trigger   what started the run: {"type", "body"} for a request,
//	          {"type", "name", "payload"} for an app event, the event for a
//	          lifecycle trigger, {"type", "scheduledAt"} for a schedule
//	steps     the outputs of the steps that have finished, by step id
//	settings  the user's settings for the workflow, by key
//	user      {"id"}
//
// and, inside a loop, the loop's variable (as:, default item) and index.
const (
	VarTrigger  = "trigger"
	VarSteps    = "steps"
	VarSettings = "settings"
	VarUser     = "user"
	VarIndex    = "index"
)

// ExprCostLimit caps the work one evaluation may do, in CEL's cost units
// (about one per value visited): enough to filter a list of thousands,
// far from enough to stall a worker.
const ExprCostLimit = 1_000_000

// MaxExprLength is the longest expression a workflow may hold.
const MaxExprLength = 4096

// ExprVars are an evaluation's variables: JSON-like values (map[string]any,
// []any, string, float64, bool, nil) by name.
type ExprVars map[string]any

// Expr is a compiled expression. Immutable and safe for concurrent use.
type Expr struct {
	Source string
	prg    cel.Program
	refs   []exprRef // steps.<id> and settings.<key> it reads
}

// exprRef is a read of steps.<id> or settings.<key> (or ["<key>"]) that
// the expression makes, at a 1-based line and column of Source.
type exprRef struct {
	root, key    string
	line, column int
}

// ExprError is a compile error: CEL's issues, each located in the
// expression's source.
type ExprError struct {
	Issues []ExprIssue
}

// ExprIssue is one problem CEL found, at a 1-based line and column (in
// characters) of the expression.
type ExprIssue struct {
	Line, Column int
	Message      string
}

func (e *ExprError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = fmt.Sprintf("%d:%d: %s", is.Line, is.Column, is.Message)
	}
	return strings.Join(parts, "; ")
}

// ErrExprCost is returned (wrapped) when an evaluation exceeds ExprCostLimit.
var ErrExprCost = errors.New("the expression exceeded its cost limit")

var exprEnvs sync.Map // joined locals -> *cel.Env

func exprEnv(locals []string) (*cel.Env, error) {
	key := strings.Join(locals, ",")
	if e, ok := exprEnvs.Load(key); ok {
		return e.(*cel.Env), nil
	}
	opts := []cel.EnvOption{
		cel.Variable(VarTrigger, cel.DynType),
		cel.Variable(VarSteps, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarSettings, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarUser, cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(), ext.Lists(), ext.Math(), ext.Encoders(),
		cel.HomogeneousAggregateLiterals(),
	}
	for _, l := range locals {
		opts = append(opts, cel.Variable(l, cel.DynType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, err
	}
	e, _ := exprEnvs.LoadOrStore(key, env)
	return e.(*cel.Env), nil
}

// CompileExpr compiles src; locals are the loop variables in scope
// (besides trigger, steps, settings and user). The error says what is
// wrong and where in src, in CEL's words.
func CompileExpr(src string, locals []string) (*Expr, error) {
	if len(src) > MaxExprLength {
		return nil, fmt.Errorf("the expression is %d characters long; at most %d", len(src), MaxExprLength)
	}
	env, err := exprEnv(locals)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		ee := &ExprError{}
		for _, e := range iss.Errors() {
			msg := strings.TrimSuffix(e.Message, " (in container '')")
			if i := strings.Index(msg, " expecting {"); i > 0 {
				msg = msg[:i] // the grammar's whole list of tokens
			}
			ee.Issues = append(ee.Issues, ExprIssue{Line: max(e.Location.Line(), 1), Column: e.Location.Column() + 1, Message: msg})
		}
		return nil, ee
	}
	prg, err := env.Program(ast, cel.CostLimit(ExprCostLimit), cel.InterruptCheckFrequency(100),
		cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	return &Expr{Source: src, prg: prg, refs: references(ast.NativeRep())}, nil
}

// references lists the expression's reads of steps.<id> and
// settings.<key>, so that a workflow can check them against its steps and
// settings. A macro that binds a variable named steps or settings hides
// the globals: then nothing is listed, rather than something wrong.
func references(a *celast.AST) []exprRef {
	var refs []exprRef
	shadowed := false
	info := a.SourceInfo()
	add := func(id int64, root, key string) {
		loc := info.GetStartLocation(id)
		refs = append(refs, exprRef{root: root, key: key, line: max(loc.Line(), 1), column: loc.Column() + 1})
	}
	celast.PreOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.ComprehensionKind:
			c := e.AsComprehension()
			for _, v := range []string{c.IterVar(), c.IterVar2(), c.AccuVar()} {
				if v == VarSteps || v == VarSettings {
					shadowed = true
				}
			}
		case celast.SelectKind:
			s := e.AsSelect()
			if op := s.Operand(); op.Kind() == celast.IdentKind && (op.AsIdent() == VarSteps || op.AsIdent() == VarSettings) {
				add(op.ID(), op.AsIdent(), s.FieldName())
			}
		case celast.CallKind:
			c := e.AsCall()
			if c.FunctionName() != "_[_]" || len(c.Args()) != 2 {
				return
			}
			op, idx := c.Args()[0], c.Args()[1]
			if op.Kind() != celast.IdentKind || (op.AsIdent() != VarSteps && op.AsIdent() != VarSettings) || idx.Kind() != celast.LiteralKind {
				return
			}
			if key, ok := idx.AsLiteral().Value().(string); ok {
				add(op.ID(), op.AsIdent(), key)
			}
		}
	}))
	if shadowed {
		return nil
	}
	return refs
}

var jsonValueType = reflect.TypeFor[*structpb.Value]()

// Eval evaluates the expression and returns a JSON-like value
// (map[string]any, []any, string, float64, bool or nil). vars must hold
// every variable (missing ones are errors, not nulls). It stops when ctx
// is done.
func (e *Expr) Eval(ctx context.Context, vars ExprVars) (any, error) {
	out, _, err := e.prg.ContextEval(ctx, map[string]any(vars))
	if err != nil {
		if strings.Contains(err.Error(), "cost limit") {
			return nil, fmt.Errorf("%w (%d)", ErrExprCost, ExprCostLimit)
		}
		return nil, err
	}
	if types.IsUnknownOrError(out) {
		return nil, fmt.Errorf("%v", out)
	}
	native, err := out.ConvertToNative(jsonValueType)
	if err != nil {
		return nil, fmt.Errorf("the result (%s) is not a JSON value: %v", out.Type().TypeName(), err)
	}
	return native.(*structpb.Value).AsInterface(), nil
}

// EvalBool evaluates a condition: the result must be a boolean.
func (e *Expr) EvalBool(ctx context.Context, vars ExprVars) (bool, error) {
	v, err := e.Eval(ctx, vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("a condition must be true or false, not %s", describeJSON(v))
	}
	return b, nil
}

// EvalList evaluates a loop's list: the result must be a list.
func (e *Expr) EvalList(ctx context.Context, vars ExprVars) ([]any, error) {
	v, err := e.Eval(ctx, vars)
	if err != nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("a loop needs a list, not %s", describeJSON(v))
	}
	return l, nil
}

func describeJSON(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

// StepValue is a value written in a workflow step: any YAML value, where a
// string that starts with "=" is an expression (the rest of the string)
// whose result replaces it, typed. Write "==" to start a literal string
// with "=".
type StepValue struct {
	literal any
	expr    *Expr
	object  map[string]*StepValue
	array   []*StepValue
	kind    valueKind
}

type valueKind uint8

const (
	valueLiteral valueKind = iota
	valueExpr
	valueObject
	valueArray
)

// CompileValue compiles a decoded YAML/JSON value (map[string]any, []any,
// scalars). The error names the JSON pointer below v where it failed.
func CompileValue(v any, locals []string) (*StepValue, error) {
	switch t := v.(type) {
	case string:
		if strings.HasPrefix(t, "==") {
			return &StepValue{literal: t[1:]}, nil
		}
		if strings.HasPrefix(t, "=") {
			e, err := CompileExpr(strings.TrimSpace(t[1:]), locals)
			if err != nil {
				return nil, err
			}
			return &StepValue{expr: e, kind: valueExpr}, nil
		}
		return &StepValue{literal: t}, nil
	case map[string]any:
		out := &StepValue{object: make(map[string]*StepValue, len(t)), kind: valueObject}
		for k, m := range t {
			cv, err := CompileValue(m, locals)
			if err != nil {
				return nil, &valuePathError{"/" + escapePointer(k), err}
			}
			out.object[k] = cv
		}
		return out, nil
	case []any:
		out := &StepValue{array: make([]*StepValue, len(t)), kind: valueArray}
		for i, m := range t {
			cv, err := CompileValue(m, locals)
			if err != nil {
				return nil, &valuePathError{fmt.Sprintf("/%d", i), err}
			}
			out.array[i] = cv
		}
		return out, nil
	}
	return &StepValue{literal: v}, nil
}

type valuePathError struct {
	ptr string
	err error
}

func (e *valuePathError) Error() string { return e.err.Error() }
func (e *valuePathError) Unwrap() error { return e.err }

// ValueErrorPointer returns the JSON pointer (relative to the compiled
// value) of an error from CompileValue, "" for the value itself.
func ValueErrorPointer(err error) string {
	var b strings.Builder
	for {
		var pe *valuePathError
		if !errors.As(err, &pe) {
			return b.String()
		}
		b.WriteString(pe.ptr)
		err = pe.err
	}
}

// IsExpr reports whether the value is exactly one expression.
func (v *StepValue) IsExpr() bool { return v.kind == valueExpr }

// Exprs returns the value's expressions, in no particular order.
func (v *StepValue) Exprs() []*Expr {
	switch v.kind {
	case valueExpr:
		return []*Expr{v.expr}
	case valueObject:
		var out []*Expr
		for _, m := range v.object {
			out = append(out, m.Exprs()...)
		}
		return out
	case valueArray:
		var out []*Expr
		for _, m := range v.array {
			out = append(out, m.Exprs()...)
		}
		return out
	}
	return nil
}

// Eval renders the value with vars: expressions are evaluated, the rest
// copied.
func (v *StepValue) Eval(ctx context.Context, vars ExprVars) (any, error) {
	switch v.kind {
	case valueExpr:
		out, err := v.expr.Eval(ctx, vars)
		if err != nil {
			return nil, fmt.Errorf("=%s: %w", v.expr.Source, err)
		}
		return out, nil
	case valueObject:
		out := make(map[string]any, len(v.object))
		for k, m := range v.object {
			r, err := m.Eval(ctx, vars)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case valueArray:
		out := make([]any, len(v.array))
		for i, m := range v.array {
			r, err := m.Eval(ctx, vars)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v.literal, nil
}
