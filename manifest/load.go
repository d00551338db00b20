package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// FileResult is the outcome of loading one file of the folder: a manifest
// or a workflow (IsWorkflowFile).
type FileResult struct {
	Path        string
	Integration *Integration // nil when the file has errors or is a workflow
	Workflow    *Workflow    // a workflow file's; nil when it has errors
	Problems    Problems     // errors and warnings

	// A workflow file as parsed on its own, and its problems then: the
	// checks against the integrations are made again on each Merge.
	parsed      *Workflow
	ownProblems Problems
}

// IsWorkflow reports whether the file is a workflow file.
func (f *FileResult) IsWorkflow() bool { return IsWorkflowFile(filepath.Base(f.Path)) }

// Result is the outcome of loading a set of manifest files.
type Result struct {
	Files []FileResult // sorted by path (Merge puts embedded manifests first)
}

// Problems returns every problem of every file, in file order.
func (r *Result) Problems() Problems {
	var all Problems
	for _, f := range r.Files {
		all = append(all, f.Problems...)
	}
	return all
}

// Integrations returns the valid integrations.
func (r *Result) Integrations() []*Integration {
	var out []*Integration
	for _, f := range r.Files {
		if f.Integration != nil {
			out = append(out, f.Integration)
		}
	}
	return out
}

// Workflows returns the valid workflows.
func (r *Result) Workflows() []*Workflow {
	var out []*Workflow
	for _, f := range r.Files {
		if f.Workflow != nil {
			out = append(out, f.Workflow)
		}
	}
	return out
}

// IsManifestFile reports whether a directory entry name is a file the
// loader reads: *.yaml or *.yml, not hidden (which also skips Kubernetes'
// ..data entries). Workflow files (IsWorkflowFile) are among them.
func IsManifestFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// ListDir returns the manifest files directly inside dir, sorted. Symbolic
// links are followed, as in a Kubernetes ConfigMap volume.
func ListDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !IsManifestFile(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			fi, err := os.Stat(path)
			if err != nil || fi.IsDir() {
				continue
			}
		} else if e.IsDir() {
			continue
		}
		files = append(files, path)
	}
	sort.Strings(files)
	return files, nil
}

// LoadPaths loads manifests from files and folders (folders are read one level
// deep). Problems that belong to no single file, such as a missing folder,
// are returned as the error.
func LoadPaths(paths []string, opts Options) (*Result, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, pathError(err))
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		list, err := ListDir(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, pathError(err))
		}
		files = append(files, list...)
	}
	return LoadFiles(files, opts), nil
}

// LoadFiles parses the given files in parallel (re-using opts.Cache's
// results for unchanged manifests) and checks rules that span files
// (unique ids; a workflow's integration and actions). Files named
// *.workflow.yaml or *.workflow.yml are workflows, the others manifests.
func LoadFiles(files []string, opts Options) *Result {
	sort.Strings(files)
	res := &Result{Files: make([]FileResult, len(files))}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res.Files[i] = loadFile(files[i], opts)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	if opts.Cache != nil {
		opts.Cache.keep(files)
	}
	checkUniqueIDs(res)
	linkWorkflows(res)
	return res
}

func loadFile(path string, opts Options) FileResult {
	fr := FileResult{Path: path}
	workflow := IsWorkflowFile(filepath.Base(path))
	// Workflows are few and checked against the integrations on every
	// load; only manifests go through the cache.
	cache := opts.Cache
	if workflow {
		cache = nil
	}
	var fi os.FileInfo
	read := time.Now()
	if cache != nil {
		fi, _ = os.Stat(path)
		if cached, ok := cache.unchanged(path, fi, opts); ok {
			return cached
		}
	}
	data, err := readRegularFile(path, MaxManifestBytes)
	if tooLarge := (*fileTooLargeError)(nil); errors.As(err, &tooLarge) {
		if workflow {
			fr.Problems = Problems{{File: path, Message: tooLarge.describe("file") + " for a workflow", Severity: Error, Hint: "split it into several workflows"}}
		} else {
			fr.Problems = Problems{{File: path, Message: tooLarge.describe("file") + " for a manifest", Severity: Error, Hint: "move large icons to their own .svg file"}}
		}
		return fr
	}
	if err != nil {
		fr.Problems = Problems{{File: path, Message: "cannot read: " + pathError(err).Error(), Severity: Error}}
		return fr
	}
	if workflow {
		return WorkflowFileResult(path, data)
	}
	if cache != nil {
		return cache.parse(path, fi, read, data, opts)
	}
	fr.Integration, fr.Problems = Parse(path, data, opts)
	return fr
}

// Merge puts files loaded elsewhere (manifests embedded in the binary,
// parsed with Parse) in front of res's files and checks ids across both: a
// file of res whose id one of first already uses is rejected. res is
// changed and returned.
func Merge(first []FileResult, res *Result) *Result {
	if len(first) == 0 {
		return res
	}
	res.Files = append(append([]FileResult(nil), first...), res.Files...)
	checkUniqueIDs(res)
	linkWorkflows(res)
	return res
}

// checkUniqueIDs rejects every file whose id an earlier file (in path order)
// already uses, so the result does not depend on read order.
func checkUniqueIDs(res *Result) {
	first := map[string]string{}
	for i := range res.Files {
		f := &res.Files[i]
		if f.Integration == nil {
			continue
		}
		id := f.Integration.ID
		if prev, dup := first[id]; dup {
			f.Problems = append(f.Problems, Problem{File: f.Path, Line: f.Integration.idLine, Column: f.Integration.idCol, Path: "id", Severity: Error,
				Message: fmt.Sprintf("id %q is already used by %s", id, prev), Hint: "ids must be unique across the folder"})
			f.Integration = nil
			continue
		}
		first[id] = f.Path
	}
}

// linkWorkflows checks each workflow file against the integrations of res
// (the integration exists and has the actions its steps run) and rejects a
// workflow whose id an earlier workflow file (in path order) already uses.
// It starts from each file's own problems, so it can run again after Merge.
func linkWorkflows(res *Result) {
	byID := map[string]*Integration{}
	var ids, failed []string
	for _, f := range res.Files {
		switch {
		case f.Integration != nil:
			byID[f.Integration.ID] = f.Integration
			ids = append(ids, f.Integration.ID)
		case !f.IsWorkflow():
			failed = append(failed, filepath.Base(f.Path))
		}
	}
	first := map[string]string{}
	for i := range res.Files {
		f := &res.Files[i]
		if f.parsed == nil {
			continue
		}
		wf := f.parsed
		probs := append(Problems(nil), f.ownProblems...)
		probs = append(probs, linkWorkflow(wf, byID[wf.Integration], ids, failed)...)
		if prev, dup := first[wf.ID]; dup {
			probs = append(probs, Problem{File: f.Path, Line: wf.idPos.line, Column: wf.idPos.col, Path: "id", Severity: Error,
				Message: fmt.Sprintf("workflow id %q is already used by %s", wf.ID, prev), Hint: "workflow ids must be unique across the folder"})
		}
		sortProblems(probs)
		f.Problems, f.Workflow = probs, nil
		if !probs.HasErrors(false) {
			f.Workflow = wf
			first[wf.ID] = f.Path
		}
	}
}

// WorkflowFileResult parses a workflow file read elsewhere (embedded in the
// binary) into a FileResult for Merge, which checks it against the
// integrations as LoadFiles does with the folder's.
func WorkflowFileResult(path string, data []byte) FileResult {
	fr := FileResult{Path: path}
	fr.parsed, fr.ownProblems = ParseWorkflow(path, data)
	fr.Problems = fr.ownProblems
	return fr
}
