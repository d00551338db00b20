package manifest

import (
	"path/filepath"
	"strconv"
)

// Config is the gateway configuration file (plugboard.yaml), validated
// against schemas/config.schema.json. It lives here because it is parsed and
// located exactly like manifests; the gateway never parses YAML itself.
// Empty fields mean "not set". Relative paths are resolved against the
// file's folder.
type Config struct {
	Listen        string          `yaml:"listen"`
	PublicURL     string          `yaml:"publicUrl"`
	Manifests     string          `yaml:"manifests"`
	Data          string          `yaml:"data"`
	Store         string          `yaml:"store"`
	Mode          string          `yaml:"mode"`
	Log           ConfigLog       `yaml:"log"`
	AdminToken    *SecretRef      `yaml:"-"`
	ShutdownGrace string          `yaml:"shutdownGrace"`
	PollInterval  string          `yaml:"pollInterval"`
	MaxBodyBytes  int64           `yaml:"maxBodyBytes"`
	EgressAllow   []string        `yaml:"egressAllow"`
	Projects      []ConfigProject `yaml:"projects"`
	Limits        ConfigLimits    `yaml:"limits"`
	// TrustedProxies are CIDRs whose X-Forwarded-For gives the client address.
	TrustedProxies []string       `yaml:"trustedProxies"`
	Secrets        ConfigSecrets  `yaml:"secrets"`
	Webhooks       ConfigWebhooks `yaml:"webhooks"`
}

// ConfigWebhooks is the webhooks section: how deliveries are made.
type ConfigWebhooks struct {
	RetryHorizon   string `yaml:"retryHorizon"`   // Go duration; empty: the default
	AttemptTimeout string `yaml:"attemptTimeout"` // Go duration; empty: the default
}

// ConfigWebhook is one endpoint of a project (projects[].webhooks[]).
type ConfigWebhook struct {
	URL string `yaml:"url"`
	// SecretRef is the signing secret's reference as written (${ENV} or
	// ${file:path}); Secret holds it parsed, and resolved by LoadConfig.
	SecretRef string     `yaml:"secret"`
	Secret    *SecretRef `yaml:"-"`
	Events    []string   `yaml:"events"`
}

// ConfigLimits is the limits section (the --rate-*, --max-connections-*,
// --refresh-cooldown, --max-cached-connections, --max-concurrent-refreshes
// and --workflow-* flags); nil or empty means not set.
type ConfigLimits struct {
	RateConnect                      string `yaml:"rateConnect"`
	RateConnectIP                    string `yaml:"rateConnectIp"`
	MaxConnectionsPerUserIntegration *int   `yaml:"maxConnectionsPerUserIntegration"`
	MaxConnectionsPerUser            *int   `yaml:"maxConnectionsPerUser"`
	RefreshCooldown                  string `yaml:"refreshCooldown"`
	MaxCachedConnections             *int   `yaml:"maxCachedConnections"`
	MaxConcurrentRefreshes           *int   `yaml:"maxConcurrentRefreshes"`
	WorkflowRunsPerProject           *int   `yaml:"workflowRunsPerProject"`
	WorkflowRunsPerUser              *int   `yaml:"workflowRunsPerUser"`
	WorkflowQueuedPerUser            *int   `yaml:"workflowQueuedPerUser"`
	WorkflowMaxDuration              string `yaml:"workflowMaxDuration"`    // Go duration
	WorkflowMaxPayload               *int64 `yaml:"workflowMaxPayload"`     // bytes
	WorkflowRequestTimeout           string `yaml:"workflowRequestTimeout"` // Go duration
}

// ConfigSecrets is the secrets section: what manifests' secret references
// may read (SecretPolicy).
type ConfigSecrets struct {
	EnvAllow []string `yaml:"envAllow"` // glob patterns of variable names
	Dirs     []string `yaml:"dirs"`     // secret folders, relative to the file
}

// ConfigLog is the log section.
type ConfigLog struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// ConfigProject is one project.
type ConfigProject struct {
	ID   string   `yaml:"id"`
	Keys []string `yaml:"keys"`
	Name string   `yaml:"name"` // display name on the Connect Portal
	Logo string   `yaml:"logo"` // logo file, relative to the config file
	// Webhooks are the app's endpoints for connection events.
	Webhooks []ConfigWebhook `yaml:"webhooks"`
}

// LoadConfig reads and validates a configuration file, resolving its secret
// references with resolver. The file is the operator's: its references may
// name any variable or file (the gateway's own PLUGBOARD_* included).
func LoadConfig(path string, resolver SecretResolver) (*Config, Problems) {
	return loadConfig(path, &resolver)
}

// CheckConfig reads and validates a configuration file like LoadConfig but
// leaves its secret references unresolved (AdminToken has no value), for
// commands that need only its other settings, such as `plugboard validate`
// in CI where the admin token is not set.
func CheckConfig(path string) (*Config, Problems) {
	return loadConfig(path, nil)
}

func loadConfig(path string, resolver *SecretResolver) (*Config, Problems) {
	data, err := readRegularFile(path, MaxConfigBytes)
	if err != nil {
		return nil, Problems{{File: path, Message: "cannot read: " + pathError(err).Error(), Severity: Error}}
	}
	d, probs := parseDocument(path, data)
	if probs != nil {
		return nil, probs
	}
	if probs := checkSchema(d, configSchema); len(probs) > 0 {
		sortProblems(probs)
		return nil, probs
	}
	var cfg Config
	if err := d.root.Decode(&cfg); err != nil {
		line, msg := yamlError(err)
		return nil, Problems{{File: path, Line: line, Message: msg, Severity: Error}}
	}
	dir := filepath.Dir(path)
	if tok := d.valueString("/adminToken"); tok != "" {
		ref, _, _ := parseSecretRef(tok)
		if ref == nil {
			return nil, Problems{d.problem("/adminToken", "not a secret reference", "use ${ENV_NAME} or ${file:path}")}
		}
		if resolver != nil {
			if err := resolver.resolve(ref, dir, nil); err != nil {
				return nil, Problems{d.problem("/adminToken", err.Error(), "")}
			}
		}
		cfg.AdminToken = ref
	}
	for _, p := range []*string{&cfg.Manifests, &cfg.Data, &cfg.Store} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i, p := range cfg.Secrets.Dirs {
		if !filepath.IsAbs(p) {
			cfg.Secrets.Dirs[i] = filepath.Join(dir, p)
		}
	}
	for i, pat := range cfg.Secrets.EnvAllow {
		if err := CheckEnvPatterns([]string{pat}); err != nil {
			return nil, Problems{d.problem("/secrets/envAllow/"+strconv.Itoa(i), err.Error(), "patterns use * and ? as in STRIPE_*")}
		}
	}
	for i := range cfg.Projects {
		for j := range cfg.Projects[i].Webhooks {
			w := &cfg.Projects[i].Webhooks[j]
			ptr := "/projects/" + strconv.Itoa(i) + "/webhooks/" + strconv.Itoa(j) + "/secret"
			ref, _, _ := parseSecretRef(w.SecretRef)
			if ref == nil {
				return nil, Problems{d.problem(ptr, "not a secret reference", "use ${ENV_NAME} or ${file:path}")}
			}
			if resolver != nil {
				if err := resolver.resolve(ref, dir, nil); err != nil {
					return nil, Problems{d.problem(ptr, err.Error(), "")}
				}
			}
			w.Secret = ref
		}
		if l := cfg.Projects[i].Logo; l != "" && !filepath.IsAbs(l) {
			cfg.Projects[i].Logo = filepath.Join(dir, l)
		}
		for j, k := range cfg.Projects[i].Keys {
			if !filepath.IsAbs(k) {
				cfg.Projects[i].Keys[j] = filepath.Join(dir, k)
			}
		}
	}
	return &cfg, nil
}
