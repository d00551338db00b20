package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/webhook"
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
// It returns the file's projects, if any, and its webhook endpoints (nil
// when none is configured).
func applyConfigFile(fs *flag.FlagSet, path string) ([]project.Config, *webhook.Config, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !setByUser(fs, "config") {
		return nil, nil, nil
	}
	cfg, probs := manifest.LoadConfig(path, manifest.SecretResolver{})
	if len(probs) > 0 {
		return nil, nil, fmt.Errorf("configuration file:\n%v", probs)
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
			return nil, nil, fmt.Errorf("%s: %s: %v", path, name, err)
		}
	}
	var projects []project.Config
	for _, p := range cfg.Projects {
		keys, err := loadPublicKeys(p.Keys)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: project %s: %w", path, p.ID, err)
		}
		projects = append(projects, project.Config{ID: p.ID, Keys: keys, Name: p.Name, Logo: p.Logo})
	}
	hooks, err := webhookConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return projects, hooks, nil
}

// webhookConfig is the file's webhook endpoints, their secrets resolved
// and decoded, and the delivery settings; nil when no project has one.
func webhookConfig(cfg *manifest.Config) (*webhook.Config, error) {
	var wc webhook.Config
	for _, p := range cfg.Projects {
		for i, w := range p.Webhooks {
			value, _ := w.Secret.Value()
			key, err := webhook.ParseSecret(value)
			if err != nil {
				return nil, fmt.Errorf("project %s: webhooks[%d].secret (%s): %w", p.ID, i, w.Secret.Source(), err)
			}
			wc.Endpoints = append(wc.Endpoints, webhook.Endpoint{ProjectID: p.ID, URL: w.URL, Secret: key, Events: w.Events})
		}
	}
	if len(wc.Endpoints) == 0 {
		return nil, nil
	}
	for _, d := range []struct {
		name, value string
		into        *time.Duration
	}{{"webhooks.retryHorizon", cfg.Webhooks.RetryHorizon, &wc.RetryHorizon}, {"webhooks.attemptTimeout", cfg.Webhooks.AttemptTimeout, &wc.AttemptTimeout}} {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive duration such as 72h", d.name, d.value)
		}
		*d.into = v
	}
	return &wc, nil
}
