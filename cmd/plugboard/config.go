package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/manifest"
)

// setByUser reports whether a flag was given on the command line or through
// its environment variable (applyEnv sets flags through the flag set, so
// fs.Visit sees both).
func setByUser(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// applyConfigFile fills every flag still unset from the configuration file.
// The default path may be absent; a path given explicitly must exist.
// It returns the file's projects, if any.
func applyConfigFile(fs *flag.FlagSet, path string) ([]project.Config, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !setByUser(fs, "config") {
		return nil, nil
	}
	cfg, probs := manifest.LoadConfig(path, manifest.SecretResolver{})
	if len(probs) > 0 {
		return nil, fmt.Errorf("configuration file:\n%v", probs)
	}
	values := map[string]string{
		"listen": cfg.Listen, "public-url": cfg.PublicURL, "manifests": cfg.Manifests, "data": cfg.Data,
		"store": cfg.Store, "mode": cfg.Mode, "log-format": cfg.Log.Format, "log-level": cfg.Log.Level,
		"shutdown-grace": cfg.ShutdownGrace, "poll-interval": cfg.PollInterval,
		"egress-allow":     strings.Join(cfg.EgressAllow, ","),
		"secret-env-allow": strings.Join(cfg.Secrets.EnvAllow, ","), "secrets-dir": strings.Join(cfg.Secrets.Dirs, ","),
	}
	if cfg.MaxBodyBytes > 0 {
		values["max-body-bytes"] = strconv.FormatInt(cfg.MaxBodyBytes, 10)
	}
	limitValues(values, cfg)
	if cfg.AdminToken != nil {
		values["admin-token"], _ = cfg.AdminToken.Value()
	}
	for name, v := range values {
		if v == "" || setByUser(fs, name) {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, name, err)
		}
	}
	var projects []project.Config
	for _, p := range cfg.Projects {
		keys, err := loadPublicKeys(p.Keys)
		if err != nil {
			return nil, fmt.Errorf("%s: project %s: %w", path, p.ID, err)
		}
		projects = append(projects, project.Config{ID: p.ID, Keys: keys, Name: p.Name, Logo: p.Logo})
	}
	return projects, nil
}
