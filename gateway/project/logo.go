package project

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// MaxLogoBytes is the largest project logo accepted. The logo is inlined
// (a data: URL) into every portal page that names the app.
const MaxLogoBytes = 64 << 10

// loadLogo reads a project logo into a data: URL. Only regular files, read
// through a limit; the type comes from the content (SVG: from the .svg
// extension and an <svg element), never from what the file claims.
func loadLogo(path string) (template.URL, error) {
	// Stat before opening: opening a FIFO would block until a writer came.
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // read only
	if opened, err := f.Stat(); err != nil || !os.SameFile(fi, opened) {
		return "", fmt.Errorf("%s changed while it was read", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxLogoBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > MaxLogoBytes {
		return "", fmt.Errorf("%s is larger than %d KiB", path, MaxLogoBytes>>10)
	}
	ct := http.DetectContentType(b)
	switch {
	case ct == "image/png", ct == "image/jpeg", ct == "image/gif", ct == "image/webp":
	case strings.EqualFold(filepath.Ext(path), ".svg") && bytes.Contains(b, []byte("<svg")):
		// Shown with <img>, where an SVG runs no script.
		ct = "image/svg+xml"
	default:
		return "", fmt.Errorf("%s is not a PNG, JPEG, GIF, WebP or SVG image (content looks like %s)", path, ct)
	}
	return template.URL("data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(b)), nil
}
