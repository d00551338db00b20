package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a problem stops a manifest from loading.
type Severity string

const (
	// Error problems reject the manifest.
	Error Severity = "error"
	// Warning problems are reported but do not reject the manifest, unless the
	// caller asks for strict validation.
	Warning Severity = "warning"
)

// Problem is one thing wrong with a manifest, located as precisely as the
// input allows. Line and Column are 1-based; zero means unknown.
type Problem struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Path     string   `json:"path"`
	Message  string   `json:"message"`
	Hint     string   `json:"hint,omitempty"`
	Severity Severity `json:"severity"`
	// Code names a kind of problem callers treat specially; most have none.
	Code ProblemCode `json:"code,omitempty"`
}

// ProblemCode classifies a problem for callers that act on its kind.
type ProblemCode string

// SecretUnset is a secret reference that could not be read (an unset
// variable, a missing file): a warning in dev mode and for validate, an
// error in production and under validate --check-env. It is about the
// environment, not the manifest, so validate --strict leaves it a warning.
const SecretUnset ProblemCode = "secret_unset"

// String renders the problem as `file:line:col: path: message (hint)`, the
// format editors and CI logs recognise.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
	}
	b.WriteString(": ")
	if p.Severity == Warning {
		b.WriteString("warning: ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Hint != "" {
		b.WriteString(" (")
		b.WriteString(p.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Problems is a list of problems that is also an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Errors returns only the problems of severity Error.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == Error {
			out = append(out, p)
		}
	}
	return out
}

// HasErrors reports whether any problem is an error; with strict, warnings
// count too, except SecretUnset (see there).
func (ps Problems) HasErrors(strict bool) bool {
	for _, p := range ps {
		if p.Severity == Error || strict && p.Code != SecretUnset {
			return true
		}
	}
	return false
}

func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// jsonPath turns a JSON pointer (/auth/inputs/0/key) into the dotted form
// users read in errors (auth.inputs[0].key).
func jsonPath(pointer string) string {
	if pointer == "" || pointer == "/" {
		return ""
	}
	var b strings.Builder
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if isIndex(tok) {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if strings.ContainsAny(tok, ". []") {
			fmt.Fprintf(&b, "%q", tok)
		} else {
			b.WriteString(tok)
		}
	}
	return b.String()
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// suggest returns the candidate closest to s, if it is close enough to be a
// plausible typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", len(s)/2+2
	for _, c := range candidates {
		if d := EditDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in bytes: what
// "did you mean" hints rank candidates by (the CLI's too).
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return fmt.Sprintf("did you mean %q?", m)
	}
	return ""
}
