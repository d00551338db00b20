package project

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

func TestAccountLabel(t *testing.T) {
	for _, tc := range []struct {
		c    usertoken.Claims
		want string
	}{
		{usertoken.Claims{Subject: "u-1", Name: "Ada Lovelace", Email: "ada@example.com"}, "Ada Lovelace (ada@example.com)"},
		{usertoken.Claims{Subject: "u-1", Name: "Ada"}, "Ada"},
		{usertoken.Claims{Subject: "u-1", Email: "ada@example.com"}, "ada@example.com"},
		{usertoken.Claims{Subject: "u-1", Name: "ada@example.com", Email: "ada@example.com"}, "ada@example.com"},
		{usertoken.Claims{Subject: "u-1"}, "u-1"},
		{usertoken.Claims{Subject: "u-1", Name: "  \t "}, "u-1"},
		// Bidirectional overrides and zero-width characters are dropped, so
		// "moc.elpmaxe@ada" written right-to-left cannot pass for another name.
		{usertoken.Claims{Subject: "u-1", Email: "evil\u202emoc.elpmaxe@ada"}, "evilmoc.elpmaxe@ada"},
		{usertoken.Claims{Subject: "u-1", Name: "A\u200bda\nLove\x00lace"}, "Ada Lovelace"},
		{usertoken.Claims{Subject: "\u202e"}, "an unnamed account"},
		{usertoken.Claims{Subject: "u", Name: strings.Repeat("x", 200)}, strings.Repeat("x", 80) + "…"},
	} {
		if got := accountLabel(tc.c); got != tc.want {
			t.Errorf("accountLabel(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestLoadLogo(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`)
	fifo := filepath.Join(dir, "fifo.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want, err string
	}{
		{write("logo.png", png), "data:image/png;base64,", ""},
		{write("logo.svg", svg), "data:image/svg+xml;base64,", ""},
		{write("logo.txt", svg), "", "is not a PNG, JPEG, GIF, WebP or SVG"},
		{write("page.svg", []byte("<html><script>x</script></html>")), "", "is not a PNG"},
		{write("big.png", append(png, make([]byte, MaxLogoBytes)...)), "", "larger than 64 KiB"},
		{dir, "", "is not a regular file"},
		{fifo, "", "is not a regular file"},
		{filepath.Join(dir, "missing.png"), "", "no such file"},
	} {
		got, err := loadLogo(tc.path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.path, err, tc.err)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(string(got), tc.want) {
			t.Errorf("%s: %q, %v", tc.path, got, err)
		}
	}
}
