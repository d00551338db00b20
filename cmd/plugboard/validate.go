package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/plugboardhq/plugboard/manifest"
	"github.com/plugboardhq/plugboard/schemas"
)

const validateHelp = `
Check integration manifests and workflows exactly as the gateway loads them:
YAML syntax, the JSON Schema, and the rules the schema cannot express (unique
ids, declared template inputs, URL shapes, secret references, icon safety).
PATH is a manifest or workflow file or a folder of *.yaml/*.yml files; the
default is integrations.d. Files named *.workflow.yaml or *.workflow.yml are
workflows (schema: plugboard schema workflow): besides their own schema,
expressions must compile, and the integration they name, its actions and the
parameters they get are checked against the manifests validated with them,
so name the folder (or the manifest with the workflow).

No secret values are needed: secrets are checked for form and against the
secret policy serve applies (no PLUGBOARD_* or other gateway variable,
--secret-env-allow, files only in the manifest's folder or a --secrets-dir
folder), then read as serve reads them, never printed. An unset variable or
a missing file is a warning, the same one serve's dev mode logs (dev mode
loads the manifest; production rejects it); --check-env makes it an error,
as production does. The policy comes from the flags,
PLUGBOARD_SECRET_ENV_ALLOW and PLUGBOARD_SECRETS_DIR, and the secrets
section of the configuration file, as for serve.

Exit status: 0 when every manifest is valid, 1 when any is invalid (or has a
warning under --strict, unset secrets aside: they are the environment's, not
the manifest's), 2 for usage errors (bad flags, missing path).

The summary counts files, the integrations that load (valid files), the
workflows that load (when there are workflow files), errors and warnings;
under --strict it adds how many warnings fail.

Formats:
  text    path:line:col: json.path: message (hint), one problem per line
  github  GitHub Actions workflow commands (::error file=…,line=…,col=…::…)
  json    {"version":1,"valid":…,"summary":{…},"files":[…],"problems":[…]}
`

func runValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", "[--format text|json|github] [--strict] [--check-env] [--secrets-dir DIR] [PATH...]", validateHelp, stderr)
	format := fs.String("format", "text", "output format: text, json or github")
	strict := fs.Bool("strict", false, "treat warnings (plain http URLs, no test endpoint, …) as errors; unset secrets stay warnings (see --check-env)")
	checkEnv := fs.Bool("check-env", false, "make unset environment variables and unreadable secret files errors, as production does (without it they are warnings)")
	quiet := fs.Bool("quiet", false, "text format: print problems only, no summary line")
	config := fs.String("config", "plugboard.yaml", "configuration file whose secrets section applies (optional when left at its default; its own secrets are not read)")
	var secrets secretFlags
	secrets.register(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	dataDir, err := secrets.apply(fs, *config, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "plugboard validate: %v\n", err)
		return exitError{exitUsage}
	}
	policy, err := secrets.policy(dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "plugboard validate: %v\n", err)
		return exitError{exitUsage}
	}
	if *format != "text" && *format != "json" && *format != "github" {
		fmt.Fprintf(stderr, "plugboard validate: unknown --format %q (want text, json or github)\n", *format)
		return exitError{exitUsage}
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"integrations.d"}
	}
	// Secrets are read as serve reads them, so an unset one is the warning
	// dev mode logs (an error under --check-env, as in production).
	res, err := manifest.LoadPaths(paths, manifest.Options{ResolveSecrets: true, AllowUnresolvedSecrets: !*checkEnv, SecretPolicy: policy})
	if err != nil {
		fmt.Fprintf(stderr, "plugboard validate: %v\n", err)
		return exitError{exitUsage}
	}
	if len(res.Files) == 0 {
		fmt.Fprintf(stderr, "plugboard validate: no manifests (*.yaml, *.yml) found in %s\n", strings.Join(paths, ", "))
		return exitError{exitInvalid}
	}
	report := newValidationReport(res, *strict)
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	case "github":
		for _, p := range report.Problems {
			level := "error"
			if !manifest.Problems([]manifest.Problem{p}).HasErrors(*strict) {
				level = "warning"
			}
			title := "plugboard"
			if p.Path != "" {
				title += " " + p.Path
			}
			fmt.Fprintf(stdout, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", level, ghProperty(p.File), max(p.Line, 1), max(p.Column, 1), ghProperty(title), ghData(problemText(p)))
		}
		fmt.Fprintln(stdout, report.summaryLine())
	default:
		for _, p := range report.Problems {
			fmt.Fprintln(stdout, p.String())
		}
		if !*quiet {
			fmt.Fprintln(stdout, report.summaryLine())
		}
	}
	if !report.Valid {
		return exitError{exitInvalid}
	}
	return nil
}

// validationReport is the stable document `validate --format json` prints.
type validationReport struct {
	Version  int                `json:"version"`
	Valid    bool               `json:"valid"`
	Strict   bool               `json:"strict"`
	Schema   string             `json:"schema"`
	Summary  validationSummary  `json:"summary"`
	Files    []validationFile   `json:"files"`
	Problems []manifest.Problem `json:"problems"`

	hasWorkflows bool // the summary line counts workflows only then, as before there were any
}

type validationSummary struct {
	Files        int `json:"files"`
	Integrations int `json:"integrations"`
	Workflows    int `json:"workflows"`
	Errors       int `json:"errors"`
	Warnings     int `json:"warnings"`
	// StrictFailures are the warnings that fail validation under --strict
	// (all but unset secrets); 0 without --strict.
	StrictFailures int `json:"strictFailures"`
}

type validationFile struct {
	Path          string `json:"path"`
	Kind          string `json:"kind"` // "integration" or "workflow"
	Valid         bool   `json:"valid"`
	IntegrationID string `json:"integrationId,omitempty"` // a workflow's too: the one it belongs to
	WorkflowID    string `json:"workflowId,omitempty"`
	Hash          string `json:"hash,omitempty"`
}

func newValidationReport(res *manifest.Result, strict bool) *validationReport {
	r := &validationReport{Version: 1, Strict: strict, Schema: schemas.IntegrationURL, Files: []validationFile{}, Problems: []manifest.Problem{}}
	workflowFiles := 0
	for _, f := range res.Files {
		vf := validationFile{Path: f.Path, Kind: "integration", Valid: f.Integration != nil && !f.Problems.HasErrors(strict)}
		if f.Integration != nil {
			vf.IntegrationID, vf.Hash = f.Integration.ID, f.Integration.Hash
		}
		if f.IsWorkflow() {
			workflowFiles++
			vf.Kind, vf.Valid = "workflow", f.Workflow != nil && !f.Problems.HasErrors(strict)
			if wf := f.Workflow; wf != nil {
				vf.WorkflowID, vf.IntegrationID, vf.Hash = wf.ID, wf.Integration, wf.Hash
			}
		}
		switch {
		case vf.Valid && f.IsWorkflow():
			r.Summary.Workflows++
		case vf.Valid:
			r.Summary.Integrations++
		}
		r.Files = append(r.Files, vf)
		for _, p := range f.Problems {
			switch {
			case p.Severity == manifest.Error:
				r.Summary.Errors++
			case strict && p.Code != manifest.SecretUnset:
				r.Summary.Warnings++
				r.Summary.StrictFailures++
			default:
				r.Summary.Warnings++
			}
			r.Problems = append(r.Problems, p)
		}
	}
	r.Summary.Files = len(res.Files)
	r.Valid = r.Summary.Errors == 0 && r.Summary.StrictFailures == 0
	r.hasWorkflows = workflowFiles > 0
	return r
}

func (r *validationReport) summaryLine() string {
	verdict := "valid"
	if !r.Valid {
		verdict = "INVALID"
	}
	line := fmt.Sprintf("%s: %d file(s), %d integration(s), ", verdict, r.Summary.Files, r.Summary.Integrations)
	if r.hasWorkflows {
		line += fmt.Sprintf("%d workflow(s), ", r.Summary.Workflows)
	}
	line += fmt.Sprintf("%d error(s), %d warning(s)", r.Summary.Errors, r.Summary.Warnings)
	if r.Summary.StrictFailures > 0 {
		line += fmt.Sprintf(" (%d fail under --strict)", r.Summary.StrictFailures)
	}
	return line
}

func problemText(p manifest.Problem) string {
	s := p.Message
	if p.Path != "" {
		s = p.Path + ": " + s
	}
	if p.Hint != "" {
		s += " (" + p.Hint + ")"
	}
	return s
}

// GitHub workflow command escaping.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func runSchema(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schema", "[integration|workflow]", "Print the embedded JSON Schema (draft 2020-12) of integration manifests, or\nwith the argument workflow, of workflow files (*.workflow.yaml). Their field\ndescriptions are the reference of each format.", stderr)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	schema := schemas.Integration
	switch fs.Arg(0) {
	case "", "integration":
	case "workflow":
		schema = schemas.Workflow
	default:
		fmt.Fprintf(stderr, "plugboard schema: unknown schema %q (want integration or workflow)\n", fs.Arg(0))
		return exitError{exitUsage}
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "plugboard schema: one schema at a time")
		return exitError{exitUsage}
	}
	_, err := stdout.Write(schema)
	return err
}
