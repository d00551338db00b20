package main

import (
	"flag"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway"
	"github.com/plugboardhq/plugboard/gateway/ratelimit"
	"github.com/plugboardhq/plugboard/gateway/workflow"
)

// The limits reach the gateway from the config file, the environment and
// flags, in that order of precedence, and 0 means "off" everywhere.
func TestLimitsFromConfigEnvAndFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "plugboard.yaml")
	writeFile(t, cfg, `trustedProxies: [10.0.0.0/8, 192.0.2.7]
limits:
  rateConnect: 5/m,burst=2
  rateConnectIp: "0"
  maxConnectionsPerUserIntegration: 0
  maxConnectionsPerUser: 7
  refreshCooldown: 0s
  maxCachedConnections: 500
`)
	parse := func(env map[string]string, args ...string) gateway.Limits {
		t.Helper()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var l limitFlags
		addLimitFlags(fs, &l)
		fs.String("config", cfg, "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := applyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Fatal(err)
		}
		if _, _, err := applyConfigFile(fs, cfg); err != nil {
			t.Fatal(err)
		}
		out, err := l.limits()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := parse(nil)
	want := gateway.Limits{
		ConnectPerUser: ratelimit.Rate{Count: 5, Per: time.Minute, Burst: 2}, ConnectPerIP: ratelimit.Disabled,
		TrustedProxies:                   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")},
		MaxConnectionsPerUserIntegration: -1, MaxConnectionsPerUser: 7, ForcedRefreshCooldown: -1, MaxCachedConnections: 500,
	}
	if !equalLimits(got, want) {
		t.Errorf("from the file: %+v\nwant %+v", got, want)
	}
	got = parse(map[string]string{"PLUGBOARD_RATE_CONNECT": "1/h", "PLUGBOARD_MAX_CONNECTIONS_PER_USER": "0"}, "--rate-connect-ip", "30/m")
	if got.ConnectPerUser != (ratelimit.Rate{Count: 1, Per: time.Hour, Burst: 1}) || got.MaxConnectionsPerUser != -1 ||
		got.ConnectPerIP != (ratelimit.Rate{Count: 30, Per: time.Minute, Burst: 30}) {
		t.Errorf("environment and flags over the file: %+v", got)
	}
	if got := parse(map[string]string{"PLUGBOARD_WORKFLOW_QUEUED_PER_USER": "7"}).Workflows.MaxQueuedPerUser; got != 7 {
		t.Errorf("PLUGBOARD_WORKFLOW_QUEUED_PER_USER=7: %d", got)
	}
	if got := parse(nil, "--workflow-queued-per-user", "0").Workflows.MaxQueuedPerUser; got != -1 {
		t.Errorf("--workflow-queued-per-user 0: %d, want -1 (no cap)", got)
	}
}

func equalLimits(a, b gateway.Limits) bool {
	if len(a.TrustedProxies) != len(b.TrustedProxies) {
		return false
	}
	for i := range a.TrustedProxies {
		if a.TrustedProxies[i] != b.TrustedProxies[i] {
			return false
		}
	}
	a.TrustedProxies, b.TrustedProxies = nil, nil
	return a.ConnectPerUser == b.ConnectPerUser && a.ConnectPerIP == b.ConnectPerIP && a.MaxConnectionsPerUserIntegration == b.MaxConnectionsPerUserIntegration &&
		a.MaxConnectionsPerUser == b.MaxConnectionsPerUser && a.ForcedRefreshCooldown == b.ForcedRefreshCooldown && a.MaxCachedConnections == b.MaxCachedConnections
}

// With no configuration the defaults are on.
func TestLimitsDefaultsAreOn(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var l limitFlags
	addLimitFlags(fs, &l)
	got, err := l.limits()
	if err != nil {
		t.Fatal(err)
	}
	if got.ConnectPerUser != gateway.DefaultConnectPerUser || got.ConnectPerIP != gateway.DefaultConnectPerIP || got.MaxConnectionsPerUserIntegration != 25 ||
		got.MaxConnectionsPerUser != 100 || got.ForcedRefreshCooldown != 30*time.Second || got.MaxCachedConnections != 10_000 || len(got.TrustedProxies) != 0 {
		t.Errorf("defaults: %+v", got)
	}
	if got.Workflows.MaxQueuedPerUser != 100 {
		t.Errorf("--workflow-queued-per-user defaults to %d, want 100", got.Workflows.MaxQueuedPerUser)
	}
}

// Every workflow limit is also a key of the config file's limits section:
// the file's value applies, and a flag or its environment variable wins over it.
func TestWorkflowLimitsFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "plugboard.yaml")
	writeFile(t, cfg, `limits:
  workflowRunsPerProject: 40
  workflowRunsPerUser: 0
  workflowQueuedPerUser: 9
  workflowMaxDuration: 2h
  workflowMaxPayload: 4096
  workflowRequestTimeout: 7s
`)
	parse := func(env map[string]string, args ...string) workflow.Limits {
		t.Helper()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var l limitFlags
		addLimitFlags(fs, &l)
		fs.String("config", cfg, "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := applyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Fatal(err)
		}
		if _, _, err := applyConfigFile(fs, cfg); err != nil {
			t.Fatal(err)
		}
		out, err := l.limits()
		if err != nil {
			t.Fatal(err)
		}
		return out.Workflows
	}
	want := workflow.Limits{MaxRunsPerProject: 40, MaxRunsPerUser: -1, MaxQueuedPerUser: 9, MaxRunDuration: 2 * time.Hour,
		MaxPayloadBytes: 4096, RequestTimeout: 7 * time.Second}
	if got := parse(nil); got != want {
		t.Errorf("from the file: %+v\nwant %+v", got, want)
	}
	got := parse(map[string]string{"PLUGBOARD_WORKFLOW_MAX_PAYLOAD": "100"}, "--workflow-runs-per-project", "3", "--workflow-runs-per-user", "2",
		"--workflow-queued-per-user", "0", "--workflow-max-duration", "5m", "--workflow-request-timeout", "1s")
	want = workflow.Limits{MaxRunsPerProject: 3, MaxRunsPerUser: 2, MaxQueuedPerUser: -1, MaxRunDuration: 5 * time.Minute,
		MaxPayloadBytes: 100, RequestTimeout: time.Second}
	if got != want {
		t.Errorf("flags and environment over the file: %+v\nwant %+v", got, want)
	}
}

// A workflow duration of 0 in the file is refused by the schema, naming the key.
func TestWorkflowLimitsConfigFileRefusesZeroDuration(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "plugboard.yaml")
	writeFile(t, cfg, "limits:\n  workflowRequestTimeout: 0s\n")
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var l limitFlags
	addLimitFlags(fs, &l)
	fs.String("config", cfg, "")
	_, _, err := applyConfigFile(fs, cfg)
	if err == nil || !strings.Contains(err.Error(), "workflowRequestTimeout") {
		t.Errorf("workflowRequestTimeout: 0s: %v, want an error naming the key", err)
	}
}
