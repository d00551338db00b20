package manifest

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadActions(t *testing.T) map[string]*Action {
	t.Helper()
	res := LoadFiles([]string{filepath.Join("testdata", "good", "actions.yaml")}, Options{})
	in := res.Files[0].Integration
	if in == nil {
		t.Fatalf("good/actions.yaml: %v", res.Files[0].Problems)
	}
	out := map[string]*Action{}
	for _, a := range in.Actions {
		out[a.Name] = a
	}
	return out
}

func params(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestActionSchemaServed(t *testing.T) {
	a := loadActions(t)["list_tickets"]
	if a.Tool != "acme-actions-list_tickets" || a.Title != "List tickets" || a.Output != "/tickets" {
		t.Errorf("compiled: %+v", a)
	}
	var schema map[string]any
	if err := json.Unmarshal(a.Schema, &schema); err != nil {
		t.Fatal(err)
	}
	if schema["type"] != "object" || schema["additionalProperties"] != false || !reflect.DeepEqual(schema["required"], []any{"project"}) {
		t.Errorf("served schema: %s", a.Schema)
	}
}

func TestActionCheckNamesParameters(t *testing.T) {
	acts := loadActions(t)
	tests := []struct {
		action, params string
		want           []ParameterError
	}{
		{"list_tickets", `{"project": "OPS"}`, nil},
		{"list_tickets", `{}`, []ParameterError{{"project", "is required"}}},
		{"list_tickets", `{"project": "OPS", "status": "pending"}`, []ParameterError{{"status", "value must be one of"}}},
		{"list_tickets", `{"project": "OPS", "per_page": 1000}`, []ParameterError{{"per_page", "must be <= 100"}}},
		{"list_tickets", `{"project": 7}`, []ParameterError{{"project", "must be string"}}},
		{"list_tickets", `{"project": "OPS", "extra": 1}`, []ParameterError{{"extra", "is not a parameter of acme-actions-list_tickets"}}},
		{"create_ticket", `{"project": "OPS", "title": "x", "labels": ["a", 2]}`, []ParameterError{{"labels[1]", "must be string"}}},
		{"create_ticket", `{"project": "OPS", "title": "x", "meta": {}}`, []ParameterError{{"meta.source", "is required"}}},
	}
	for _, tc := range tests {
		got := acts[tc.action].Check(params(t, tc.params))
		if len(got) != len(tc.want) {
			t.Errorf("%s %s: want %v, got %v", tc.action, tc.params, tc.want, got)
			continue
		}
		for i := range got {
			if got[i].Parameter != tc.want[i].Parameter || !strings.Contains(got[i].Message, tc.want[i].Message) {
				t.Errorf("%s %s: want %v, got %v", tc.action, tc.params, tc.want[i], got[i])
			}
		}
	}
}

func TestActionRender(t *testing.T) {
	acts := loadActions(t)
	req, err := acts["list_tickets"].Render(params(t, `{"project": "a/b c", "per_page": 5, "labels": ["x", "y"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "GET" || req.Path != "/projects/a%2Fb%20c/tickets" || req.Body != nil {
		t.Errorf("request: %+v", req)
	}
	// status was left out: its query parameter is not sent.
	if want := []NameValue{{"labels", "x,y"}, {"per_page", "5"}}; !reflect.DeepEqual(req.Query, want) {
		t.Errorf("query: want %v, got %v", want, req.Query)
	}
	for _, bad := range []string{`{"project": ".."}`, `{"project": ""}`} {
		if _, err := acts["list_tickets"].Render(params(t, bad)); err == nil {
			t.Errorf("%s: a dot segment or empty segment was rendered", bad)
		}
	}

	req, err = acts["create_ticket"].Render(params(t, `{"project": "OPS", "title": "Line one\nline two", "labels": ["bug"], "priority": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"draft":false,"kind":"ticket","labels":["bug"],"priority":2,"summary":"Line one\nline two (OPS)","title":"Line one\nline two"}`
	if !bytes.Equal(req.Body, []byte(want)) {
		t.Errorf("body:\nwant %s\ngot  %s", want, req.Body)
	}
	if want := []NameValue{{"X-Request-Source", "agent OPS"}}; !reflect.DeepEqual(req.Headers, want) {
		t.Errorf("headers: %v", req.Headers)
	}
}
