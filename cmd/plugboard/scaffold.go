package main

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/plugboardhq/plugboard/manifest"
	"github.com/plugboardhq/plugboard/schemas"
	"gopkg.in/yaml.v3"
)

// What `new` and `import openapi` share: where the manifest and its icon
// go, the schema modeline, the placeholder icon, and the check that what is
// about to be written validates.

// idRE is the schema's pattern for integration ids.
var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// checkID says what is wrong with an id and suggests one.
func checkID(id string) error {
	if idRE.MatchString(id) {
		return nil
	}
	msg := fmt.Sprintf("id %q is not valid: use lower-case letters, digits and hyphens, starting with a letter or digit, at most 63 characters", id)
	if s := slugify(id); s != "" && s != id {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return errors.New(msg)
}

// slugify turns a display name ("Swagger Petstore - OpenAPI 3.0") into an
// id ("swagger-petstore-openapi-3-0").
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}

// titleFromID is the display name an id suggests: "acme-crm" → "Acme Crm".
func titleFromID(id string) string {
	words := strings.FieldsFunc(id, func(r rune) bool { return r == '-' })
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// envPrefix is the prefix of the environment variables a manifest's
// secrets are read from: "acme-crm" → "ACME_CRM".
func envPrefix(id string) string {
	p := strings.ToUpper(strings.ReplaceAll(id, "-", "_"))
	if p != "" && p[0] >= '0' && p[0] <= '9' {
		p = "_" + p // variable names cannot start with a digit
	}
	return p
}

// outputPaths resolves --out for an integration id: a path ending in .yaml
// or .yml is the manifest file, anything else a folder (created if
// missing); the default is integrations.d when that folder exists, else
// the current folder. The icon goes beside the manifest, named after it.
func outputPaths(out, id string) (manifestPath, iconPath string) {
	if out == "" {
		out = "."
		if fi, err := os.Stat("integrations.d"); err == nil && fi.IsDir() {
			out = "integrations.d"
		}
	}
	manifestPath = out
	if ext := strings.ToLower(filepath.Ext(out)); ext != ".yaml" && ext != ".yml" {
		manifestPath = filepath.Join(out, id+".yaml")
	}
	iconPath = strings.TrimSuffix(manifestPath, filepath.Ext(manifestPath)) + ".svg"
	return manifestPath, iconPath
}

// modeline is the first line of a written manifest: it points editors at
// the schema, relative to the manifest when a checkout's schemas/ folder is
// above it (as integrations.d's manifests do), else at the published URL.
func modeline(manifestPath string) string {
	dir, err := filepath.Abs(filepath.Dir(manifestPath))
	if err == nil {
		for d := dir; ; d = filepath.Dir(d) {
			candidate := filepath.Join(d, "schemas", "integration.schema.json")
			if _, statErr := os.Stat(candidate); statErr == nil {
				if rel, relErr := filepath.Rel(dir, candidate); relErr == nil {
					return "# yaml-language-server: $schema=" + filepath.ToSlash(rel)
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "# yaml-language-server: $schema=" + schemas.IntegrationURL
}

// accentPalette holds the default accent colours; an id picks one, so that
// placeholder icons side by side differ.
var accentPalette = []string{"#4F46E5", "#0F766E", "#B45309", "#BE185D", "#1D4ED8", "#7C3AED", "#047857", "#B91C1C"}

func defaultAccent(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return accentPalette[h.Sum32()%uint32(len(accentPalette))]
}

var accentRE = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

// placeholderIcon draws the name's initial in a rounded square of the accent
// colour, in white or near-black, whichever reads better on it.
func placeholderIcon(name, accent string) []byte {
	initial := "?"
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			initial = string(unicode.ToUpper(r))
			break
		}
	}
	ink := "#FFFFFF"
	if luminance(accent) > 0.6 {
		ink = "#111827"
	}
	var esc strings.Builder
	_ = xmlEscape(&esc, initial)
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">`+
		`<rect width="64" height="64" rx="14" fill="%s"/>`+
		`<text x="32" y="43" text-anchor="middle" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="30" font-weight="600" fill="%s">%s</text>`+
		"</svg>\n", accent, ink, esc.String())
}

func xmlEscape(w io.Writer, s string) error {
	_, err := io.WriteString(w, strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s))
	return err
}

// luminance is the relative luminance (0 black … 1 white) of #RRGGBB.
func luminance(hex string) float64 {
	if !accentRE.MatchString(hex) {
		return 0
	}
	var sum float64
	for i, weight := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		sum += weight * float64(v) / 255
	}
	return sum
}

// scaffold is a manifest about to be written, with its icon.
type scaffold struct {
	manifestPath, iconPath string
	manifest, icon         []byte
}

// check validates the manifest as `validate` would, with the icon it is
// about to get, and returns its problems. Secrets are checked for form
// only: their variables are set where the gateway runs, not here.
func (s *scaffold) check() manifest.Problems {
	iconFile := filepath.Clean(s.iconPath)
	read := func(path string) ([]byte, error) {
		if filepath.Clean(path) == iconFile {
			return s.icon, nil
		}
		return os.ReadFile(path)
	}
	_, probs := manifest.Parse(s.manifestPath, s.manifest, manifest.Options{ReadFile: read})
	return probs
}

// write writes the manifest and its icon, refusing to replace either
// unless force is set. Nothing is written when either would be refused.
func (s *scaffold) write(force bool) error {
	if !force {
		for _, p := range []string{s.manifestPath, s.iconPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s already exists; --force overwrites it", p)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(s.manifestPath), 0o755); err != nil {
		return fmt.Errorf("cannot create the folder for %s: %v", s.manifestPath, pathErrorText(err))
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{s.iconPath, s.icon}, {s.manifestPath, s.manifest}} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return fmt.Errorf("cannot write %s: %v", f.path, pathErrorText(err))
		}
	}
	return nil
}

// pathErrorText is an *fs.PathError's reason without the path, which the
// caller has already named.
func pathErrorText(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// reportProblems prints a manifest's problems as validate does; it returns
// whether any fails `validate --strict` (unset secrets aside).
func reportProblems(w io.Writer, probs manifest.Problems) bool {
	failed := false
	for _, p := range probs {
		fmt.Fprintln(w, p.String())
		if p.Severity == manifest.Error || p.Code != manifest.SecretUnset {
			failed = true
		}
	}
	return failed
}

// yamlScalar writes s as a YAML scalar: plain when that reads back as the
// same string, quoted otherwise.
func yamlScalar(s string) string {
	b, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	out := strings.TrimSuffix(string(b), "\n")
	if strings.Contains(out, "\n") { // block scalars do not fit on a key's line
		return strconv.Quote(s)
	}
	return out
}
