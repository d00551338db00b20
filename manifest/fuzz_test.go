package manifest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes, starting from every good and bad
// manifest: it must never panic, every problem must name the file, and a
// manifest is returned exactly when there is no error.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"good", "bad", "dupid"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.y*ml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	icon := []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)
	opts := Options{
		// Icons and secrets come from memory, so the fuzzer never reads the disk.
		ReadFile: func(path string) ([]byte, error) {
			if strings.HasSuffix(path, "acme.svg") {
				return icon, nil
			}
			return nil, fs.ErrNotExist
		},
		ResolveSecrets: true,
		Secrets: SecretResolver{
			LookupEnv: func(name string) (string, bool) { return "value-of-" + name, !strings.HasPrefix(name, "UNSET") },
			ReadFile:  func(string) ([]byte, error) { return []byte("from-file\n"), nil },
		},
	}
	const file = "testdata/fuzz/manifest.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		in, probs := Parse(file, data, opts)
		for _, p := range probs {
			if p.File != file || p.Line < 0 || p.Column < 0 || p.Message == "" {
				t.Fatalf("badly located problem %+v", p)
			}
			if p.Severity != Error && p.Severity != Warning {
				t.Fatalf("problem without severity %+v", p)
			}
			_ = p.String()
		}
		if hasErrors := probs.HasErrors(false); (in == nil) != hasErrors {
			t.Fatalf("integration %v returned with problems %v", in != nil, probs)
		}
		if in != nil && (in.ID == "" || in.Hash == "" || in.API.BaseURL == nil) {
			t.Fatalf("incomplete integration %+v", in)
		}
	})
}

// FuzzParseWorkflow feeds ParseWorkflow arbitrary bytes, starting from
// every good and bad workflow: it must never panic, every problem must be
// located in the file, and a workflow is returned exactly when there is no
// error; a returned one is checked against an integration without panics.
func FuzzParseWorkflow(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, err := filepath.Glob(filepath.Join("testdata", "workflows", dir, "*.workflow.y*ml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	res := LoadFiles([]string{filepath.Join("testdata", "workflows", "acme.yaml")}, Options{})
	acme := res.Files[0].Integration
	if acme == nil {
		f.Fatal(res.Problems())
	}
	const file = "testdata/fuzz/x.workflow.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		wf, probs := ParseWorkflow(file, data)
		for _, p := range probs {
			if p.File != file || p.Line < 0 || p.Column < 0 || p.Message == "" {
				t.Fatalf("badly located problem %+v", p)
			}
			if p.Severity != Error && p.Severity != Warning {
				t.Fatalf("problem without severity %+v", p)
			}
		}
		if hasErrors := probs.HasErrors(false); (wf == nil) != hasErrors {
			t.Fatalf("workflow %v returned with problems %v", wf != nil, probs)
		}
		if wf == nil {
			return
		}
		if wf.ID == "" || wf.Hash == "" || wf.Trigger.Type == "" || len(wf.Steps) == 0 {
			t.Fatalf("incomplete workflow %+v", wf)
		}
		for _, p := range linkWorkflow(wf, acme, []string{"acme"}, nil) {
			if p.File != file || p.Message == "" {
				t.Fatalf("badly located problem %+v", p)
			}
		}
	})
}
