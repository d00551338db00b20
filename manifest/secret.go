package manifest

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
)

// SecretRef is a reference to a secret kept outside git: ${NAME} reads an
// environment variable, ${file:path} reads a file. Its value is filled only
// when the manifest is loaded with secret resolution on, and it never prints.
type SecretRef struct {
	Env   string // environment variable name, or ""
	File  string // file path (absolute, or relative to the manifest's folder), or ""
	value string
	set   bool
}

var secretRefRE = regexp.MustCompile(`^\$\{(?:file:(.+)|([A-Za-z_][A-Za-z0-9_]*))\}$`)

// parseSecretRef recognises a whole-value secret reference. ok is false when
// the string is not one; err is set when it looks like one but is malformed.
func parseSecretRef(s string) (ref *SecretRef, ok bool, err error) {
	if m := secretRefRE.FindStringSubmatch(s); m != nil {
		if m[1] != "" {
			return &SecretRef{File: m[1]}, true, nil
		}
		return &SecretRef{Env: m[2]}, true, nil
	}
	if strings.Contains(s, "${") {
		if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") {
			return nil, false, fmt.Errorf("malformed secret reference %q: use ${ENV_NAME} (letters, digits, _) or ${file:path}", s)
		}
		return nil, false, fmt.Errorf("a secret reference must be the whole value, e.g. ${API_KEY}; it cannot be part of a longer string")
	}
	return nil, false, nil
}

// Source describes where the secret comes from, for messages: "$NAME" or "file path".
func (s *SecretRef) Source() string {
	if s.Env != "" {
		return "environment variable " + s.Env
	}
	return "file " + s.File
}

// Value returns the resolved secret; ok is false if it was not resolved.
func (s *SecretRef) Value() (string, bool) { return s.value, s.set }

// String, GoString, LogValue and MarshalText keep the value out of every
// printed form.
func (s *SecretRef) String() string               { return "<secret>" }
func (s *SecretRef) GoString() string             { return "<secret>" }
func (s *SecretRef) LogValue() slog.Value         { return slog.StringValue("<secret>") }
func (s *SecretRef) MarshalText() ([]byte, error) { return []byte("<secret>"), nil }

// SecretResolver reads secret values. The zero value reads the process
// environment and the file system.
type SecretResolver struct {
	LookupEnv func(string) (string, bool)
	// ReadFile replaces the file system for ${file:…} (tests): it gets the
	// path the policy allowed, and the checks of what that path leads to
	// (symbolic links, regular file, size) are its own business.
	ReadFile func(string) ([]byte, error)
}

// resolve reads the secret a reference names. dir is the folder relative
// file paths start from. With a policy (manifests), a file must lead, after
// symbolic links, into a folder the policy allows; without one (the
// operator's config file), any file may be read. Either way only a regular
// file of at most MaxSecretFileBytes is read.
func (r SecretResolver) resolve(s *SecretRef, dir string, policy *SecretPolicy) error {
	if s.Env != "" {
		lookup := r.LookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		v, ok := lookup(s.Env)
		if !ok {
			return fmt.Errorf("environment variable %s is not set", s.Env)
		}
		if v == "" {
			return fmt.Errorf("environment variable %s is empty", s.Env)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("environment variable %s contains a line break or NUL", s.Env)
		}
		s.value, s.set = v, true
		return nil
	}
	path := secretPath(s.File, dir)
	var b []byte
	var err error
	if r.ReadFile != nil {
		b, err = r.ReadFile(path)
	} else {
		b, err = readSecretFile(s, path, dir, policy)
	}
	if err != nil {
		if _, ok := refusal(err); ok {
			return err
		}
		return fmt.Errorf("cannot read secret file %s: %v", s.File, pathError(err))
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return fmt.Errorf("secret file %s is empty", s.File)
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("secret file %s holds more than one line; a secret is one line", s.File)
	}
	s.value, s.set = v, true
	return nil
}

// readSecretFile reads a secret file from disk, following symbolic links
// first so that the policy judges the file actually read.
func readSecretFile(s *SecretRef, path, dir string, policy *SecretPolicy) ([]byte, error) {
	if policy != nil {
		real, err := realPath(path)
		if err != nil {
			return nil, err
		}
		if err := policy.checkReal(s, real, dir); err != nil {
			return nil, err
		}
		path = real
	}
	return readRegularFile(path, MaxSecretFileBytes)
}

func pathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Value is a manifest string that is either a template or a whole secret reference.
type Value struct {
	Template *Template
	Secret   *SecretRef
}

// Render returns the secret's value or renders the template.
func (v Value) Render(vars Vars) (string, error) {
	if v.Secret != nil {
		s, ok := v.Secret.Value()
		if !ok {
			return "", fmt.Errorf("secret from %s was not resolved", v.Secret.Source())
		}
		return s, nil
	}
	return v.Template.Render(vars)
}
