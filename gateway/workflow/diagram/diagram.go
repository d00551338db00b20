// Package diagram draws a workflow as an SVG image: its trigger, then its
// steps top to bottom, a condition's two branches side by side, a loop as
// a box around its body, each step coloured by its state in a run. It is
// pure (a workflow and step states in, bytes out), deterministic (the same
// input gives the same bytes: golden tests and caches rely on it), and
// escapes every text it draws, which comes from workflow files and may
// hold anything.
package diagram

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/plugboardhq/plugboard/manifest"
)

// State is a step's state in a run.
type State string

// The states a step goes through. A step without a state (no run, or a
// run that has not reached it) is drawn neutral.
const (
	Pending   State = "pending"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Skipped   State = "skipped" // an untaken branch
)

// known reports whether s is one of the states above: anything else is
// drawn as no state (the class attribute and texts take only these).
func (s State) known() bool {
	switch s {
	case Pending, Running, Succeeded, Failed, Skipped:
		return true
	}
	return false
}

// Layout, in SVG user units (pixels at 100%).
const (
	nodeW      = 240
	nodeH      = 54
	gapY       = 30 // between a block and the next
	branchGap  = 28 // between a condition's branches
	loopPad    = 14 // inside a loop's box
	loopHeader = 40 // the loop's title and list above its body
	margin     = 16
	charW      = 7 // an average character at 13px, to truncate text to its box
)

// Render draws wf with states (by step id; nil or missing: no state), as
// a standalone SVG document with its Style.
func Render(wf *manifest.Workflow, states map[string]State) []byte {
	return render(wf, states, true)
}

// Inline draws wf like Render, without the <style> element: for a page
// that puts Style in its own stylesheet (a strict Content-Security-Policy
// refuses an inline <style> without the page's nonce).
func Inline(wf *manifest.Workflow, states map[string]State) []byte {
	return render(wf, states, false)
}

func render(wf *manifest.Workflow, states map[string]State, withStyle bool) []byte {
	known := map[string]State{}
	for id, st := range states {
		if st.known() {
			known[id] = st
		}
	}
	d := &drawing{states: known, prefix: "wf-" + safeID(wf.ID)}
	body := sequence(append([]block{triggerBlock{wf.Trigger}}, d.blocks(wf.Steps)...))
	w, h := body.size()
	w, h = w+2*margin, h+2*margin
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc">`+"\n", w, h, w, h, d.prefix, d.prefix)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`+"\n", d.prefix, escape(wf.Title))
	fmt.Fprintf(&b, `<desc id="%s-desc">%s</desc>`+"\n", d.prefix, escape(d.describe(wf)))
	fmt.Fprintf(&b, `<defs><marker id="%s-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>`+"\n", d.prefix)
	if withStyle {
		b.WriteString(`<style>` + Style + `</style>` + "\n")
	}
	d.out = &b
	body.draw(d, margin, margin)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// Style colours the diagram's states. Its rules only apply inside a
// diagram (class workflow-diagram), so a page may include it as it is.
var Style = scope(`.n rect{fill:#fff;stroke:#8c959f;stroke-width:1.5}` +
	`.n text{font:13px system-ui,sans-serif;fill:#1f2328}.n .d{font-size:11px;fill:#57606a}` +
	`.trigger rect{fill:#f6f8fa;stroke:#6e7781}` +
	`.pending rect{fill:#f6f8fa;stroke:#8c959f;stroke-dasharray:4 3}` +
	`.running rect{fill:#ddf4ff;stroke:#0969da;stroke-width:2.5}` +
	`.succeeded rect{fill:#dafbe1;stroke:#1a7f37}` +
	`.failed rect{fill:#ffebe9;stroke:#cf222e;stroke-width:2.5}` +
	`.skipped rect{fill:#fff;stroke:#d0d7de;stroke-dasharray:2 3}.skipped text{fill:#8c959f}` +
	`.loop>rect{fill:none;stroke:#8c959f;stroke-dasharray:6 4}.loop>text{font:12px system-ui,sans-serif;fill:#1f2328}.loop>.d{font-size:11px;fill:#57606a}` +
	`.loop.failed>rect{stroke:#cf222e}.loop.succeeded>rect{stroke:#1a7f37}.loop.running>rect{stroke:#0969da}` +
	`.e{fill:none;stroke:#57606a;stroke-width:1.5}.l{font:11px system-ui,sans-serif;fill:#57606a}`)

// scope prefixes every rule of css with .workflow-diagram.
func scope(css string) string {
	var b strings.Builder
	for _, rule := range strings.SplitAfter(css, "}") {
		if rule == "" {
			continue
		}
		sel, body, _ := strings.Cut(rule, "{")
		parts := strings.Split(sel, ",")
		for i, p := range parts {
			parts[i] = ".workflow-diagram " + p
		}
		b.WriteString(strings.Join(parts, ",") + "{" + body)
	}
	return b.String()
}

type drawing struct {
	states map[string]State
	prefix string // ids in the SVG, unique per workflow on a page
	out    *strings.Builder
}

// block is a part of the diagram: entered at the middle of its top edge,
// left at the middle of its bottom edge.
type block interface {
	size() (w, h int)
	draw(d *drawing, x, y int) // x, y: its top left corner
}

func (d *drawing) blocks(steps []*manifest.Step) []block {
	out := make([]block, 0, len(steps))
	for _, s := range steps {
		switch s.Kind {
		case manifest.StepCondition:
			out = append(out, conditionBlock{step: s, then: sequence(d.blocks(s.Then)), els: sequence(d.blocks(s.Else))})
		case manifest.StepLoop:
			out = append(out, loopBlock{step: s, body: sequence(d.blocks(s.Do))})
		default:
			out = append(out, stepBlock{s})
		}
	}
	return out
}

// sequence stacks blocks, centred on one axis, joined by arrows.
type sequence []block

func (q sequence) size() (int, int) {
	w, h := 0, 0
	for i, b := range q {
		bw, bh := b.size()
		w = max(w, bw)
		h += bh
		if i > 0 {
			h += gapY
		}
	}
	return w, h
}

func (q sequence) draw(d *drawing, x, y int) {
	w, _ := q.size()
	cx := x + w/2
	for i, b := range q {
		bw, bh := b.size()
		if i > 0 {
			d.path(fmt.Sprintf("M%d,%d V%d", cx, y-gapY, y), true)
		}
		b.draw(d, cx-bw/2, y)
		y += bh + gapY
	}
}

type triggerBlock struct{ t manifest.Trigger }

func (triggerBlock) size() (int, int) { return nodeW, nodeH }

func (tb triggerBlock) draw(d *drawing, x, y int) {
	d.node(x, y, "trigger", "Trigger", triggerText(tb.t), "trigger: "+triggerText(tb.t))
}

func triggerText(t manifest.Trigger) string {
	switch t.Type {
	case manifest.TriggerRequest:
		return "request from the app"
	case manifest.TriggerEvent:
		return "app event " + t.Event
	case manifest.TriggerLifecycle:
		return "connection " + strings.Join(t.Lifecycle, ", ")
	case manifest.TriggerSchedule:
		s := "schedule " + t.Cron
		if t.Timezone != nil {
			s += " (" + t.Timezone.String() + ")"
		}
		return s
	}
	return string(t.Type)
}

type stepBlock struct{ s *manifest.Step }

func (stepBlock) size() (int, int) { return nodeW, nodeH }

func (sb stepBlock) draw(d *drawing, x, y int) {
	state := d.states[sb.s.ID]
	d.node(x, y, string(state), stepTitle(sb.s), withState(stepDetail(sb.s), state), d.tooltip(sb.s, state))
}

func stepTitle(s *manifest.Step) string {
	if s.Title != "" {
		return s.Title
	}
	return s.ID
}

func stepDetail(s *manifest.Step) string {
	switch s.Kind {
	case manifest.StepAction:
		return "action " + s.Action
	case manifest.StepRequest:
		return s.Method + " " + valueText(s.Path)
	case manifest.StepResponse:
		return fmt.Sprintf("respond %d", max(s.Status, 200))
	case manifest.StepCondition:
		return "if " + exprText(s.If)
	case manifest.StepLoop:
		as := s.As
		if as == "" {
			as = "item"
		}
		return fmt.Sprintf("for each %s in %s (at most %d)", as, exprText(s.Foreach), s.MaxItems)
	}
	return string(s.Kind)
}

func exprText(e *manifest.Expr) string {
	if e == nil {
		return ""
	}
	return e.Source
}

// valueText shows a step value as written: an expression with its "=".
func valueText(v *manifest.StepValue) string {
	switch {
	case v == nil:
		return ""
	case v.IsExpr():
		return "=" + v.Exprs()[0].Source
	}
	lit, err := v.Eval(context.Background(), nil) // a literal: nothing to evaluate
	if err != nil {
		return ""
	}
	if str, ok := lit.(string); ok {
		return str
	}
	return fmt.Sprint(lit)
}

func withState(detail string, st State) string {
	if st == "" {
		return detail
	}
	return string(st) + " · " + detail
}

func (d *drawing) tooltip(s *manifest.Step, st State) string {
	t := s.ID + " (" + string(s.Kind) + "): " + stepDetail(s)
	if st != "" {
		t += " — " + string(st)
	}
	return t
}

// conditionBlock: the condition's node, its "then" branch on the left and
// "else" on the right, joined again below.
type conditionBlock struct {
	step      *manifest.Step
	then, els sequence
}

func (c conditionBlock) branchW(q sequence) int {
	w, _ := q.size()
	return max(w, nodeW/2)
}

func (c conditionBlock) size() (int, int) {
	_, th := c.then.size()
	_, eh := c.els.size()
	w := max(nodeW, c.branchW(c.then)+branchGap+c.branchW(c.els))
	return w, nodeH + gapY + max(th, eh) + gapY
}

func (c conditionBlock) draw(d *drawing, x, y int) {
	w, h := c.size()
	cx := x + w/2
	state := d.states[c.step.ID]
	d.node(cx-nodeW/2, y, string(state), stepTitle(c.step), withState(stepDetail(c.step), state), d.tooltip(c.step, state))
	tw, ew := c.branchW(c.then), c.branchW(c.els)
	left := cx - (tw+branchGap+ew)/2
	top := y + nodeH + gapY
	bottom := y + h
	for _, br := range []struct {
		q     sequence
		x, w  int
		label string
	}{{c.then, left, tw, "then"}, {c.els, left + tw + branchGap, ew, "else"}} {
		bx := br.x + br.w/2
		_, bh := br.q.size()
		d.path(fmt.Sprintf("M%d,%d V%d H%d V%d", cx, y+nodeH, y+nodeH+gapY/2, bx, top), len(br.q) > 0)
		fmt.Fprintf(d.out, `<text class="l" x="%d" y="%d"%s>%s</text>`+"\n", bx+4, y+nodeH+gapY/2-4, anchor(bx < cx), br.label)
		if len(br.q) == 0 {
			d.path(fmt.Sprintf("M%d,%d V%d H%d", bx, top, bottom-gapY/2, cx), false)
			continue
		}
		bqw, _ := br.q.size()
		br.q.draw(d, bx-bqw/2, top)
		d.path(fmt.Sprintf("M%d,%d V%d H%d", bx, top+bh, bottom-gapY/2, cx), false)
	}
	d.path(fmt.Sprintf("M%d,%d V%d", cx, bottom-gapY/2, bottom), false)
}

func anchor(leftSide bool) string {
	if leftSide {
		return ` text-anchor="end" dx="-8"`
	}
	return ""
}

// loopBlock: a dashed box around the loop's body, labelled with the list.
type loopBlock struct {
	step *manifest.Step
	body sequence
}

func (l loopBlock) size() (int, int) {
	bw, bh := l.body.size()
	if len(l.body) == 0 {
		bh = 0
	}
	return max(nodeW, bw) + 2*loopPad, loopHeader + loopPad + bh + loopPad
}

func (l loopBlock) draw(d *drawing, x, y int) {
	w, h := l.size()
	state := d.states[l.step.ID]
	fmt.Fprintf(d.out, `<g class="%s" id="%s-step-%s"><title>%s</title>`+"\n", classes("loop", string(state)), d.prefix, safeID(l.step.ID), escape(d.tooltip(l.step, state)))
	fmt.Fprintf(d.out, `<rect x="%d" y="%d" width="%d" height="%d" rx="10"/>`+"\n", x, y, w, h)
	fmt.Fprintf(d.out, `<text x="%d" y="%d" font-weight="600">%s</text>`+"\n", x+10, y+17, escape(truncate(stepTitle(l.step), (w-20)/charW)))
	fmt.Fprintf(d.out, `<text class="d" x="%d" y="%d">%s</text>`+"\n", x+10, y+33, escape(truncate(withState(stepDetail(l.step), state), (w-20)/charW+4)))
	d.out.WriteString("</g>\n")
	if len(l.body) > 0 {
		bw, _ := l.body.size()
		l.body.draw(d, x+w/2-bw/2, y+loopHeader+loopPad)
	}
}

// node is one box: a title and a detail line, with a tooltip.
func (d *drawing) node(x, y int, class, title, detail, tooltip string) {
	max := (nodeW - 20) / charW
	fmt.Fprintf(d.out, `<g class="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="8"/>`, classes("n", class), escape(tooltip), x, y, nodeW, nodeH)
	fmt.Fprintf(d.out, `<text x="%d" y="%d" font-weight="600">%s</text>`, x+10, y+22, escape(truncate(title, max)))
	fmt.Fprintf(d.out, `<text class="d" x="%d" y="%d">%s</text></g>`+"\n", x+10, y+41, escape(truncate(detail, max+4)))
}

func (d *drawing) path(def string, arrow bool) {
	if arrow {
		fmt.Fprintf(d.out, `<path class="e" d="%s" marker-end="url(#%s-arrow)"/>`+"\n", def, d.prefix)
		return
	}
	fmt.Fprintf(d.out, `<path class="e" d="%s"/>`+"\n", def)
}

// classes is a class attribute's value: base, then state when there is one.
func classes(base, state string) string {
	if state == "" {
		return base
	}
	return base + " " + state
}

// describe is the diagram's text alternative: the trigger and the steps in order.
func (d *drawing) describe(wf *manifest.Workflow) string {
	var parts []string
	var walk func(steps []*manifest.Step)
	walk = func(steps []*manifest.Step) {
		for _, s := range steps {
			parts = append(parts, stepTitle(s)+" ("+withState(stepDetail(s), d.states[s.ID])+")")
			walk(s.Then)
			walk(s.Else)
			walk(s.Do)
		}
	}
	walk(wf.Steps)
	return "Trigger: " + triggerText(wf.Trigger) + ". Steps: " + strings.Join(parts, "; ") + "."
}

// escape makes s safe as SVG (XML) text or attribute value; characters
// XML does not allow become spaces.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&#34;")
		case r == '\'':
			b.WriteString("&#39;")
		case r < 0x20 || r == 0x7f || (r >= 0xfffe && r <= 0xffff) || r == utf8.RuneError || (r >= 0xd800 && r <= 0xdfff):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncate shortens s to n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 1)]) + "…"
}

// safeID keeps an id's characters that are safe in an XML id (workflow
// and step ids are [a-z0-9][a-z0-9-]* already; this is a second guard).
func safeID(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
}
