package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/ratelimit"
	"github.com/plugboardhq/plugboard/gateway/workflow"
	"github.com/plugboardhq/plugboard/manifest"
)

// limitFlags are serve's limits against abuse (gateway.Limits).
type limitFlags struct {
	connectPerUser, connectPerIP                 ratelimit.Rate
	trustedProxies                               string
	maxPerUserIntegration, maxPerUser, maxCached int
	maxRefreshes                                 int
	refreshCooldown                              time.Duration
	workflows                                    workflow.Limits
}

const rateSyntax = "COUNT/PERIOD[,burst=N], PERIOD s, m, h or a duration such as 30s; 0 disables"

func addLimitFlags(fs *flag.FlagSet, l *limitFlags) {
	l.connectPerUser, l.connectPerIP = gateway.DefaultConnectPerUser, gateway.DefaultConnectPerIP
	fs.Var(&l.connectPerUser, "rate-connect", "connect attempts per end user, a `rate` (credential creation, portal submits, build-oauth, connect-link creation): "+rateSyntax)
	fs.Var(&l.connectPerIP, "rate-connect-ip", "connect attempts per client address, a `rate` (IPv6 by /64), on the same routes plus connect-link opening and OAuth callbacks, not connect-link creation: "+rateSyntax)
	fs.StringVar(&l.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For gives the client address (right-most untrusted hop); empty: the TCP peer is the client and X-Forwarded-For is ignored")
	fs.IntVar(&l.maxPerUserIntegration, "max-connections-per-user-integration", gateway.DefaultMaxConnectionsPerUserIntegration, "most connections one user may hold for one integration; reconnecting is always allowed (0: no cap)")
	fs.IntVar(&l.maxPerUser, "max-connections-per-user", gateway.DefaultMaxConnectionsPerUser, "most connections one user may hold over all integrations (0: no cap)")
	fs.DurationVar(&l.refreshCooldown, "refresh-cooldown", connection.DefaultForcedRefreshCooldown, "after an upstream 401 forced a token refresh, further 401s of that connection within this time are passed on without refreshing (per replica; 0 disables)")
	fs.IntVar(&l.maxCached, "max-cached-connections", connection.DefaultMaxCached, "most decrypted connections kept in memory, least recently used dropped first")
	w := &l.workflows
	fs.IntVar(&w.MaxRunsPerProject, "workflow-runs-per-project", workflow.DefaultMaxRunsPerProject, "most workflow runs of one project executing at a time, over all replicas; more wait, queued (0: no cap)")
	fs.IntVar(&w.MaxRunsPerUser, "workflow-runs-per-user", workflow.DefaultMaxRunsPerUser, "most workflow runs of one end user executing at a time; more wait, queued (0: no cap)")
	fs.IntVar(&w.MaxQueuedPerUser, "workflow-queued-per-user", workflow.DefaultMaxQueuedPerUser, "most workflow runs of one end user waiting to start; a request or event trigger that would queue more answers 429 workflow_queue_full (0: no cap)")
	fs.DurationVar(&w.MaxRunDuration, "workflow-max-duration", workflow.DefaultMaxRunDuration, "a workflow run not finished this long after it was triggered fails")
	fs.Int64Var(&w.MaxPayloadBytes, "workflow-max-payload", workflow.DefaultMaxPayloadBytes, "largest workflow trigger payload (request body, event payload) and step output, in bytes")
	fs.DurationVar(&w.RequestTimeout, "workflow-request-timeout", workflow.DefaultRequestTimeout, "how long POST …/sdk/triggers/{workflowId} waits for the run's response before answering 504 workflow_timeout (the run goes on)")
	fs.IntVar(&l.maxRefreshes, "max-concurrent-refreshes", connection.DefaultMaxConcurrentRefreshes, "most token refreshes one integration may have in flight at once (per replica); more wait their turn (0: no cap)")
}

func (l limitFlags) limits() (gateway.Limits, error) {
	trusted, err := ratelimit.ParsePrefixes(l.trustedProxies)
	if err != nil {
		return gateway.Limits{}, fmt.Errorf("--trusted-proxies: %w", err)
	}
	noCap := func(name string, v int) (int, error) {
		switch {
		case v < 0:
			return 0, fmt.Errorf("--%s %d: want 0 (no cap) or more", name, v)
		case v == 0:
			return -1, nil
		}
		return v, nil
	}
	out := gateway.Limits{ConnectPerUser: l.connectPerUser, ConnectPerIP: l.connectPerIP, TrustedProxies: trusted,
		ForcedRefreshCooldown: l.refreshCooldown, MaxCachedConnections: l.maxCached}
	if out.MaxConnectionsPerUserIntegration, err = noCap("max-connections-per-user-integration", l.maxPerUserIntegration); err != nil {
		return out, err
	}
	if out.MaxConnectionsPerUser, err = noCap("max-connections-per-user", l.maxPerUser); err != nil {
		return out, err
	}
	if out.MaxConcurrentRefreshes, err = noCap("max-concurrent-refreshes", l.maxRefreshes); err != nil {
		return out, err
	}
	switch {
	case l.refreshCooldown < 0:
		return out, errors.New("--refresh-cooldown: want 0 (disabled) or more")
	case l.refreshCooldown == 0:
		out.ForcedRefreshCooldown = -1
	}
	out.Workflows = l.workflows
	for name, v := range map[string]*int{"workflow-runs-per-project": &out.Workflows.MaxRunsPerProject, "workflow-runs-per-user": &out.Workflows.MaxRunsPerUser,
		"workflow-queued-per-user": &out.Workflows.MaxQueuedPerUser} {
		if *v, err = noCap(name, *v); err != nil {
			return out, err
		}
	}
	if l.workflows.MaxRunDuration <= 0 || l.workflows.RequestTimeout <= 0 || l.workflows.MaxPayloadBytes <= 0 {
		return out, errors.New("--workflow-max-duration, --workflow-request-timeout and --workflow-max-payload must be more than 0")
	}
	if l.maxCached < 1 {
		return out, fmt.Errorf("--max-cached-connections %d: want at least 1", l.maxCached)
	}
	return out, nil
}

// limitValues adds the config file's limits to values, by flag name.
func limitValues(values map[string]string, cfg *manifest.Config) {
	l := cfg.Limits
	values["rate-connect"], values["rate-connect-ip"], values["refresh-cooldown"] = l.RateConnect, l.RateConnectIP, l.RefreshCooldown
	values["trusted-proxies"] = strings.Join(cfg.TrustedProxies, ",")
	values["workflow-max-duration"], values["workflow-request-timeout"] = l.WorkflowMaxDuration, l.WorkflowRequestTimeout
	for name, v := range map[string]*int{"max-connections-per-user-integration": l.MaxConnectionsPerUserIntegration,
		"max-connections-per-user": l.MaxConnectionsPerUser, "max-cached-connections": l.MaxCachedConnections,
		"max-concurrent-refreshes": l.MaxConcurrentRefreshes, "workflow-runs-per-project": l.WorkflowRunsPerProject,
		"workflow-runs-per-user": l.WorkflowRunsPerUser, "workflow-queued-per-user": l.WorkflowQueuedPerUser} {
		if v != nil {
			values[name] = strconv.Itoa(*v)
		}
	}
	if l.WorkflowMaxPayload != nil {
		values["workflow-max-payload"] = strconv.FormatInt(*l.WorkflowMaxPayload, 10)
	}
}
