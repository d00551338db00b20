package apierror

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// declaredCodes reads the Code constants declared in this package's source.
func declaredCodes(t *testing.T) []Code {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "apierror.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []Code
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				s, err := strconv.Unquote(v.(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				codes = append(codes, Code(s))
			}
		}
	}
	return codes
}

// readmeCodes reads the codes of the README's table of gateway-made errors.
func readmeCodes(t *testing.T) []Code {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "**Errors made by the gateway**")
	if !ok {
		t.Fatal("README.md has no **Errors made by the gateway** section")
	}
	var codes []Code
	row := regexp.MustCompile(`^\| *\d{3} *\| *(.*?) *\|`)
	inTable := false
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, c := range regexp.MustCompile("`"+`([a-z_]+)`+"`").FindAllStringSubmatch(m[1], -1) {
			codes = append(codes, Code(c[1]))
		}
	}
	return codes
}

// Every code is declared once, listed by Codes, and documented in the
// README's table, which names no code the gateway does not have.
func TestCodesMatchTheREADME(t *testing.T) {
	declared := declaredCodes(t)
	if len(declared) < 20 {
		t.Fatalf("found only %d Code constants in apierror.go", len(declared))
	}
	listed := Codes()
	readme := readmeCodes(t)
	for _, c := range declared {
		if n := strings.Count(","+joinCodes(declared)+",", ","+string(c)+","); n != 1 {
			t.Errorf("code %q is declared %d times", c, n)
		}
		if !slices.Contains(listed, c) {
			t.Errorf("code %q is declared but Codes() does not list it", c)
		}
		if !slices.Contains(readme, c) {
			t.Errorf("code %q is not in the README's table of errors", c)
		}
	}
	for _, c := range readme {
		if !slices.Contains(declared, c) {
			t.Errorf("the README's table names %q, which is not a code of the gateway", c)
		}
	}
	if len(listed) != len(declared) {
		t.Errorf("Codes() lists %d codes, %d are declared", len(listed), len(declared))
	}
}

func joinCodes(cs []Code) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ",")
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	e := New(429, RateLimited, "too many attempts")
	e.RetryAfter = 1500 * time.Millisecond
	e.Fields = []FieldError{{Field: "api_key", Message: "API key is required"}}
	Write(rec, e)
	if rec.Code != 429 {
		t.Errorf("status %d", rec.Code)
	}
	for k, want := range map[string]string{
		"X-Plugboard-Error": "rate_limited", "Cache-Control": "no-store", "Retry-After": "2", "Content-Type": "application/json",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	var got struct {
		Code     string       `json:"code"`
		Message  string       `json:"message"`
		Fields   []FieldError `json:"fields"`
		Provider any          `json:"provider"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Code != "rate_limited" || got.Message != "too many attempts" || len(got.Fields) != 1 || got.Provider != nil {
		t.Errorf("body %s", rec.Body)
	}
	if e.Error() != "rate_limited: too many attempts" {
		t.Errorf("Error() = %q", e.Error())
	}
}

// TestCauseIsNeverWritten: the cause of a failure (a dial error with the
// gateway's addresses and resolver) is for operators, not for callers.
func TestCauseIsNeverWritten(t *testing.T) {
	e := New(502, CredentialTest, "Could not reach Acme to check the credential; try again.")
	e.Cause = errors.New("dial tcp: lookup api.acme.example on 10.255.255.53:53: no such host")
	w := httptest.NewRecorder()
	Write(w, e)
	if got := w.Body.String() + strings.Join(w.Header().Values("X-Plugboard-Error"), ""); strings.Contains(got, "10.255.255.53") || strings.Contains(got, "lookup") {
		t.Errorf("the cause reached the response: %s", got)
	}
}
