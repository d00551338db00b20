package manifest

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// SecretPolicy says which secret references a manifest may make. Manifest
// authors describe an API; they are not trusted with the gateway's own
// secrets, so whatever the policy says, a manifest never reads the
// gateway's own variables (see ReservedEnv) and ${file:…} never leaves the
// manifest's folder and the folders named here. The zero value is the
// strictest sensible policy: any variable that is not reserved, files in the
// manifest's folder only.
type SecretPolicy struct {
	// EnvAllow, when not empty, lists the environment variable names a
	// manifest may read, as glob patterns (path.Match syntax, e.g. STRIPE_*
	// or GITHUB_CLIENT_ID). Reserved names stay refused even if a pattern
	// matches them.
	EnvAllow []string
	// Dirs are folders besides the manifest's own whose files ${file:…} may
	// read (mounted secret volumes such as /run/secrets). Relative folders
	// are taken from the working directory.
	Dirs []string
	// Deny are folders never read, even inside an allowed folder: the
	// gateway's data folder (its admin token and dev keys).
	Deny []string
}

// CheckEnvPatterns reports the first malformed glob pattern.
func CheckEnvPatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("secret variable pattern %q: %v", p, err)
		}
	}
	return nil
}

// ReservedEnv reports whether the gateway reads the environment variable
// itself, so that no manifest may: PLUGBOARD_* (flags, the admin token, the
// encryption keys, and their *_FILE forms), PG* (the PostgreSQL client reads
// PGPASSWORD and its kin), and the HTTP proxy variables (which may hold a
// proxy password). Names are compared without case, as Windows does.
func ReservedEnv(name string) bool {
	n := strings.ToUpper(name)
	switch n {
	case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
		return true
	}
	return strings.HasPrefix(n, "PLUGBOARD_") || strings.HasPrefix(n, "PG")
}

// refusedError is a reference the policy refuses: always an error, even
// where an unset secret is only a warning (dev mode).
type refusedError struct{ msg, hint string }

func (e *refusedError) Error() string { return e.msg }

func refused(hint, format string, args ...any) error {
	return &refusedError{msg: fmt.Sprintf(format, args...), hint: hint}
}

// check applies the policy to a reference without reading anything, so
// `plugboard validate` catches a refused reference without the secret. dir
// is the manifest's folder.
func (p *SecretPolicy) check(s *SecretRef, dir string) error {
	if s.Env != "" {
		if ReservedEnv(s.Env) {
			return refused("name a variable of your own, e.g. ${ACME_CLIENT_SECRET}", "environment variable %s is reserved for the gateway's own settings; a manifest cannot read it", s.Env)
		}
		if len(p.EnvAllow) == 0 {
			return nil
		}
		for _, pat := range p.EnvAllow {
			if ok, _ := path.Match(pat, s.Env); ok {
				return nil
			}
		}
		return refused("the operator allows: "+strings.Join(p.EnvAllow, ", ")+" (--secret-env-allow)", "environment variable %s is not in the allowed secret variables", s.Env)
	}
	abs, err := filepath.Abs(secretPath(s.File, dir))
	if err != nil {
		return refused("", "secret file %s: %v", s.File, err)
	}
	if !p.allowed(abs, dir, false) {
		return refused(p.dirsHint(), "secret file %s is outside the manifest's folder and the secret folders", s.File)
	}
	if deny := p.denied(abs, false); deny != "" {
		return refused("", "secret file %s is inside %s, the gateway's own folder", s.File, deny)
	}
	return nil
}

// checkReal applies the policy to the file a reference leads to once every
// symbolic link is followed (real is the result of filepath.EvalSymlinks),
// so a link inside the folder cannot point out of it. Links inside the
// folder, as in Kubernetes secret volumes (token -> ..data/token,
// ..data -> ..2024_01_01_00_00_00.1), are fine.
func (p *SecretPolicy) checkReal(s *SecretRef, real, dir string) error {
	if !p.allowed(real, dir, true) {
		return refused(p.dirsHint(), "secret file %s leads to %s, outside the manifest's folder and the secret folders", s.File, real)
	}
	if deny := p.denied(real, true); deny != "" {
		return refused("", "secret file %s leads to %s, inside the gateway's own folder %s", s.File, real, deny)
	}
	return nil
}

func (p *SecretPolicy) dirsHint() string {
	if len(p.Dirs) == 0 {
		return "keep secret files in the manifest's folder, or have the operator name their folder with --secrets-dir"
	}
	return "keep secret files in the manifest's folder or in " + strings.Join(p.Dirs, ", ") + " (--secrets-dir)"
}

func (p *SecretPolicy) allowed(file, dir string, real bool) bool {
	for _, root := range append([]string{dir}, p.Dirs...) {
		if r := rootPath(root, real); r != "" && within(r, file) {
			return true
		}
	}
	return false
}

func (p *SecretPolicy) denied(file string, real bool) string {
	for _, root := range p.Deny {
		if r := rootPath(root, real); r != "" && within(r, file) {
			return root
		}
	}
	return ""
}

// rootPath is a folder made absolute, and with real its links resolved
// ("" when it cannot be).
func rootPath(dir string, real bool) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if !real {
		return abs
	}
	r, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return ""
	}
	return r
}

// within reports whether the clean absolute path file is root or below it.
func within(root, file string) bool {
	rel, err := filepath.Rel(root, file)
	return err == nil && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// secretPath is where a ${file:…} reference points: relative paths are
// relative to the manifest's folder.
func secretPath(file, dir string) string {
	if filepath.IsAbs(file) {
		return filepath.Clean(file)
	}
	return filepath.Join(dir, file)
}

// refusal returns the policy refusal inside err, if any.
func refusal(err error) (*refusedError, bool) {
	var r *refusedError
	ok := errors.As(err, &r)
	return r, ok
}
