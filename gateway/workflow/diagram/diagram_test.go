package diagram

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/manifest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.svg")

func expr(t *testing.T, src string, locals ...string) *manifest.Expr {
	t.Helper()
	e, err := manifest.CompileExpr(src, locals)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func value(t *testing.T, v any) *manifest.StepValue {
	t.Helper()
	sv, err := manifest.CompileValue(v, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sv
}

// leads is a workflow with every kind of step.
func leads(t *testing.T) *manifest.Workflow {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.UTC
	}
	_ = paris
	return &manifest.Workflow{ID: "post-new-leads", Title: "Post new leads to Slack", Integration: "slack",
		Trigger: manifest.Trigger{Type: manifest.TriggerRequest},
		Steps: []*manifest.Step{
			{ID: "fetch", Kind: manifest.StepRequest, Title: "Fetch the owner", Method: "GET", Path: value(t, "='/users/' + trigger.body.owner")},
			{ID: "big", Kind: manifest.StepCondition, If: expr(t, "steps.fetch.body.size > 10"),
				Then: []*manifest.Step{{ID: "post", Kind: manifest.StepAction, Title: "Post the lead", Action: "post_message"}},
				Else: nil},
			{ID: "each", Kind: manifest.StepLoop, Title: "Tag each item", Foreach: expr(t, "steps.fetch.body.items"), As: "item", MaxItems: 50,
				Do: []*manifest.Step{{ID: "tag", Kind: manifest.StepRequest, Method: "POST", Path: value(t, "/tags")}}},
			{ID: "answer", Kind: manifest.StepResponse, Status: 200},
		}}
}

func TestRenderGolden(t *testing.T) {
	wf := leads(t)
	for _, tc := range []struct {
		name   string
		states map[string]State
	}{
		{"no-run", nil},
		{"failed-run", map[string]State{"fetch": Succeeded, "big": Succeeded, "post": Failed, "each": Pending, "tag": Pending, "answer": Pending}},
		{"running", map[string]State{"fetch": Succeeded, "big": Succeeded, "post": Skipped, "each": Running, "tag": Running}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Render(wf, tc.states)
			wellFormed(t, got)
			if again := Render(wf, tc.states); !bytes.Equal(got, again) {
				t.Error("two renderings differ")
			}
			golden(t, tc.name, got)
		})
	}
}

func TestRenderShowsStates(t *testing.T) {
	got := string(Render(leads(t), map[string]State{"fetch": Succeeded, "post": Failed, "big": Succeeded}))
	for _, want := range []string{
		`<g class="n succeeded"><title>fetch (request): GET =&#39;/users/&#39; + trigger.body.owner — succeeded</title>`,
		`<g class="n failed"><title>post (action): action post_message — failed</title>`,
		`>failed · action post_message</text>`,
		`<g class="n trigger"><title>trigger: request from the app</title>`,
		`<g class="loop" id="wf-post-new-leads-step-each">`,
		`>Tag each item</text>`, `<title>each (loop): for each item in steps.fetch.body.items (at most 50)</title>`,
		`>then</text>`, `>else</text>`,
		`<desc id="wf-post-new-leads-desc">Trigger: request from the app. Steps: Fetch the owner (succeeded · GET =&#39;/users/&#39; + trigger.body.owner); big (succeeded · if steps.fetch.body.size &gt; 10); Post the lead (failed · action post_message); Tag each item (for each item in steps.fetch.body.items (at most 50)); tag (POST /tags); answer (respond 200).</desc>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the diagram lacks %s", want)
		}
	}
}

// Titles, ids and expressions come from workflow files: whatever they
// hold stays text.
func TestRenderEscapesText(t *testing.T) {
	evil := `</text><script>alert(1)</script><a href="javascript:x">&amp;` + "\x00\x1b]0;\u2028'"
	wf := &manifest.Workflow{ID: `x"><svg onload=alert(1)>`, Title: evil, Integration: "slack",
		Trigger: manifest.Trigger{Type: manifest.TriggerEvent, Event: evil},
		Steps: []*manifest.Step{
			{ID: "a", Kind: manifest.StepAction, Title: evil, Action: evil},
			{ID: "b", Kind: manifest.StepCondition, Title: evil, If: expr(t, `"</text><script>" == "x"`),
				Then: []*manifest.Step{{ID: "c", Kind: manifest.StepResponse, Title: evil}}},
			{ID: "l", Kind: manifest.StepLoop, Title: evil, Foreach: expr(t, `["<b>"]`), MaxItems: 5},
		}}
	got := Render(wf, map[string]State{"a": State(`"><script>alert(2)</script>`)})
	wellFormed(t, got)
	s := string(got)
	for _, bad := range []string{"<script", "<a ", "<svg onload", "\x00", "\x1b", `"><svg`, `"><script`, "javascript:x\""} {
		if strings.Contains(s, bad) {
			t.Errorf("the SVG contains %q", bad)
		}
	}
	if !strings.Contains(s, "&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the title is not shown as text")
	}
	if strings.Count(s, "<svg") != 1 || strings.Count(s, "<script") != 0 {
		t.Error("elements were injected")
	}
}

// wellFormed parses the SVG as XML and checks that it holds only drawing
// elements (nothing a browser would run or follow).
func wellFormed(t *testing.T, svg []byte) {
	t.Helper()
	allowed := map[string]bool{"svg": true, "title": true, "desc": true, "defs": true, "marker": true, "path": true, "style": true, "g": true, "rect": true, "text": true}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if !allowed[se.Name.Local] {
				t.Errorf("element <%s> in the diagram", se.Name.Local)
			}
			for _, a := range se.Attr {
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") || a.Name.Local == "href" {
					t.Errorf("attribute %s=%q on <%s>", a.Name.Local, a.Value, se.Name.Local)
				}
			}
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.svg")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./gateway/workflow/diagram -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (-update rewrites it; review the diff):\n%s", path, got)
	}
}

// Inline is Render without the <style> element; Style scopes every rule.
func TestInline(t *testing.T) {
	wf := leads(t)
	standalone, inline := string(Render(wf, nil)), string(Inline(wf, nil))
	if strings.Contains(inline, "<style") || strings.ReplaceAll(standalone, "<style>"+Style+"</style>\n", "") != inline {
		t.Error("Inline differs from Render by more than the <style> element")
	}
	for _, rule := range strings.SplitAfter(Style, "}") {
		if rule != "" && !strings.HasPrefix(rule, ".workflow-diagram ") {
			t.Errorf("an unscoped rule: %s", rule)
		}
	}
}
