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
	defer f.Close()
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

// TestHostilePaths runs every payload of the corpus through the same two
// steps the proxy uses. Each must be refused, or land on the base URL's
// scheme, host and path prefix with no dot segment.
func TestHostilePaths(t *testing.T) {
	base, _ := url.Parse("https://api.example.com/v1")
	payloads := loadCorpus(t, "hostile-paths.txt")
	if len(payloads) < 50 {
		t.Fatalf("corpus has %d payloads, want at least 50", len(payloads))
	}
	refused := 0
	for _, p := range payloads {
		path, err := checkPath(p)
		if err == nil {
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
	t.Logf("%d of %d hostile payloads refused, the rest stay on the API's host", refused, len(payloads))
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
