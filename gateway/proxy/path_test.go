package proxy

import (
	"bufio"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
)

func loadCorpus(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "# ") || line == "#" {
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

// corpusRow is one payload of a corpus; mayPass marks rows ("+" first)
// that may be accepted as long as they stay on the base URL.
type corpusRow struct {
	payload string
	mayPass bool
}

func loadHostilePaths(t *testing.T) []corpusRow {
	var rows []corpusRow
	for _, line := range loadCorpus(t, "hostile-paths.txt") {
		p, mayPass := strings.CutPrefix(line, "+")
		rows = append(rows, corpusRow{p, mayPass})
	}
	return rows
}

// TestHostilePaths runs every payload of the corpus through the same two
// steps the proxy uses. Each must be refused; the few marked with "+" may
// instead land on the base URL's scheme, host and path prefix with no dot
// segment.
func TestHostilePaths(t *testing.T) {
	base, _ := url.Parse("https://api.example.com/v1")
	rows := loadHostilePaths(t)
	if len(rows) < 500 {
		t.Fatalf("corpus has %d payloads, want at least 500", len(rows))
	}
	refused := 0
	for _, row := range rows {
		p := row.payload
		path, err := checkPath(p)
		if err == nil {
			if !row.mayPass {
				t.Errorf("%q was accepted", p)
			}
			var u *url.URL
			u, err = join(base, path, "")
			if err == nil {
				if u.Scheme != "https" || u.Host != "api.example.com" || !strings.HasPrefix(u.Path, "/v1/") {
					t.Errorf("%q was accepted and leaves the base URL: %s", p, u)
				}
				for _, seg := range strings.Split(u.Path, "/") {
					if seg == ".." || seg == "." {
						t.Errorf("%q was accepted with a dot segment: %s", p, u)
					}
				}
				continue
			}
		}
		var pe *PathError
		if !errors.As(err, &pe) && !strings.HasPrefix(err.Error(), "path refused") {
			t.Errorf("%q: error %v is not a path refusal", p, err)
		}
		refused++
	}
	t.Logf("%d of %d hostile payloads refused, the rest stay on the API's host", refused, len(rows))
}

func TestPathsThatMustWork(t *testing.T) {
	base, _ := url.Parse("https://api.example.com/v1/")
	cases := []struct{ in, query, want string }{
		{"", "", "https://api.example.com/v1"},
		{"/", "", "https://api.example.com/v1/"},
		{"/users/me", "", "https://api.example.com/v1/users/me"},
		{"/users/me/", "", "https://api.example.com/v1/users/me/"},
		{"/repos/a/b/contents/docs%20v2.md", "ref=main", "https://api.example.com/v1/repos/a/b/contents/docs%20v2.md?ref=main"},
		{"/users/@me", "", "https://api.example.com/v1/users/@me"},
		{"/search", "q=a%2Fb&x=..", "https://api.example.com/v1/search?q=a%2Fb&x=.."},
		{"/files/caf%C3%A9", "", "https://api.example.com/v1/files/caf%C3%A9"},
		{"/a:b", "", "https://api.example.com/v1/a:b"},
		{"/v1.2/items", "", "https://api.example.com/v1/v1.2/items"},
		{"/files/report.v2.pdf", "", "https://api.example.com/v1/files/report.v2.pdf"},
		{"/.well-known/openid-configuration", "", "https://api.example.com/v1/.well-known/openid-configuration"},
		{"/users/%E2%80%A6", "", "https://api.example.com/v1/users/%E2%80%A6"},                   // … folds to "...", not a dot segment
		{"/files/%E2%80%A6%E2%80%A6", "", "https://api.example.com/v1/files/%E2%80%A6%E2%80%A6"}, // ……
		{"/a/.../b", "", "https://api.example.com/v1/a/.../b"},
		{"/a/..b/b..", "", "https://api.example.com/v1/a/..b/b.."},
		{"/a/.%20./b", "", "https://api.example.com/v1/a/.%20./b"},
		{"/files/%E6%97%A5%E6%9C%AC%E8%AA%9E.txt", "", "https://api.example.com/v1/files/%E6%97%A5%E6%9C%AC%E8%AA%9E.txt"},
		{"/files/%E3%80%82txt", "", "https://api.example.com/v1/files/%E3%80%82txt"}, // 。txt
		{"/files/%EF%BC%8Eenv", "", "https://api.example.com/v1/files/%EF%BC%8Eenv"}, // ．env
		{"/emoji/%F0%9F%98%80", "", "https://api.example.com/v1/emoji/%F0%9F%98%80"},
		{"/names/J%C3%BCrgen%20M%C3%BCller", "", "https://api.example.com/v1/names/J%C3%BCrgen%20M%C3%BCller"},
		{"/names/%D0%90%D0%BD%D0%BD%D0%B0", "", "https://api.example.com/v1/names/%D0%90%D0%BD%D0%BD%D0%B0"},
		{"/tags/c++", "", "https://api.example.com/v1/tags/c++"},
		{"/tags/c%2B%2B", "", "https://api.example.com/v1/tags/c%2B%2B"},
		{"/discounts/100%25", "", "https://api.example.com/v1/discounts/100%25"},
		{"/files/a%252eb", "", "https://api.example.com/v1/files/a%252eb"}, // a file named a%2eb
		{"/files/what%3F.txt", "", "https://api.example.com/v1/files/what%3F.txt"},
		{"/files/%20", "", "https://api.example.com/v1/files/%20"},
		{"/files/%C2%A0notes", "", "https://api.example.com/v1/files/%C2%A0notes"},
		{"/files/one%C2%BDhalf", "", "https://api.example.com/v1/files/one%C2%BDhalf"}, // ½ folds to 1⁄2 (fraction slash): stays a name
	}
	for _, c := range cases {
		path, err := checkPath(c.in)
		if err != nil {
			t.Errorf("%q refused: %v", c.in, err)
			continue
		}
		u, err := join(base, path, c.query)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if u.String() != c.want {
			t.Errorf("%q → %s, want %s", c.in, u, c.want)
		}
	}
}

func TestBaseQueryIsKept(t *testing.T) {
	base, _ := url.Parse("https://api.example.com/v1?api-version=2")
	u, err := join(base, "/items", "top=5")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "https://api.example.com/v1/items?api-version=2&top=5"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestUnderPath(t *testing.T) {
	for _, c := range []struct {
		path, base string
		want       bool
	}{
		{"/v2/users", "/v2", true}, {"/v2", "/v2", true}, {"/v2/", "/v2/", true}, {"/v2/users", "/v2/", true},
		{"/admin/x", "/v2", false}, {"/v2evil", "/v2", false}, {"/v2evil/x", "/v2/", false}, {"/", "/v2", false},
		{"", "/v2", false}, {"/V2/users", "/v2", false}, {"/anything", "", true}, {"/anything", "/", true},
	} {
		if got := underPath(c.path, c.base); got != c.want {
			t.Errorf("underPath(%q, %q) = %v", c.path, c.base, got)
		}
	}
}
