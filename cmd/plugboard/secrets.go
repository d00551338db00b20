package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/plugboardhq/plugboard/manifest"
)

// listFlag is a comma-separated list flag that may also be repeated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, splitList(v)...)
	return nil
}

// secretFlags limit what manifests' secret references may read; serve,
// validate and try share them so that validate refuses what serve would.
type secretFlags struct {
	envAllow, dirs listFlag
}

const (
	secretEnvAllowUsage = "environment variables manifests may read as ${NAME}: glob patterns, comma-separated or repeated (e.g. STRIPE_*,GITHUB_CLIENT_ID); empty allows any name except the gateway's own (PLUGBOARD_*, PG*, HTTP_PROXY…), which are never readable"
	secretsDirUsage     = "folders of secret files manifests may read as ${file:path} besides their own folder, comma-separated or repeated (e.g. /run/secrets); only regular files up to 64 KiB, judged after following symbolic links"
)

func (s *secretFlags) register(fs *flag.FlagSet) {
	fs.Var(&s.envAllow, "secret-env-allow", secretEnvAllowUsage)
	fs.Var(&s.dirs, "secrets-dir", secretsDirUsage)
}

// policy is the manifests' secret policy; dataDir (the gateway's own folder)
// is never readable from a manifest.
func (s *secretFlags) policy(dataDir string) (manifest.SecretPolicy, error) {
	if err := manifest.CheckEnvPatterns(s.envAllow); err != nil {
		return manifest.SecretPolicy{}, fmt.Errorf("--secret-env-allow: %v", err)
	}
	p := manifest.SecretPolicy{EnvAllow: s.envAllow, Dirs: s.dirs}
	if dataDir != "" {
		p.Deny = []string{dataDir}
	}
	return p, nil
}

// apply is, for commands without the full serve configuration
// (validate, try), what applyEnv and applyConfigFile do for serve: the two
// secret flags from PLUGBOARD_SECRET_ENV_ALLOW and PLUGBOARD_SECRETS_DIR, then
// from the config file's secrets section. It returns the data folder serve
// would use (PLUGBOARD_DATA, the file's data, or the default), so the policy
// refuses the same files.
func (s *secretFlags) apply(fs *flag.FlagSet, configPath string, lookup func(string) (string, bool)) (dataDir string, err error) {
	for _, name := range []string{"secret-env-allow", "secrets-dir"} {
		if setByUser(fs, name) {
			continue
		}
		v, ok, err := envValue(lookup, envName(name))
		if err != nil {
			return "", err
		}
		if ok {
			if err := fs.Set(name, v); err != nil {
				return "", fmt.Errorf("%s: %v", envName(name), err)
			}
		}
	}
	dataDir = ".plugboard"
	if v, ok, _ := envValue(lookup, "PLUGBOARD_DATA"); ok && v != "" {
		dataDir = v
	}
	if _, err := os.Stat(configPath); errors.Is(err, os.ErrNotExist) && !setByUser(fs, "config") {
		return dataDir, nil
	}
	cfg, probs := manifest.CheckConfig(configPath)
	if len(probs) > 0 {
		return "", fmt.Errorf("configuration file:\n%v", probs)
	}
	if !setByUser(fs, "secret-env-allow") {
		s.envAllow = append(s.envAllow, cfg.Secrets.EnvAllow...)
	}
	if !setByUser(fs, "secrets-dir") {
		s.dirs = append(s.dirs, cfg.Secrets.Dirs...)
	}
	if _, ok := lookup("PLUGBOARD_DATA"); !ok && cfg.Data != "" {
		dataDir = cfg.Data
	}
	return dataDir, nil
}
