package manifest

import (
	"regexp"
	"time"
)

// AuthType is how end users connect an account.
type AuthType string

// The auth types a manifest can declare.
const (
	AuthOAuth2            AuthType = "oauth2"
	AuthClientCredentials AuthType = "oauth2_client_credentials"
	AuthAPIKey            AuthType = "api_key"
	AuthBasic             AuthType = "basic"
)

// TokenAuthStyle is how a client authenticates at a token URL.
type TokenAuthStyle string

// Token auth styles (RFC 6749 §2.3.1).
const (
	TokenAuthHeader TokenAuthStyle = "header"
	TokenAuthBody   TokenAuthStyle = "body"
)

// Integration is one validated, compiled manifest: everything the gateway
// needs at request time, with templates parsed and secrets resolved. It is
// immutable once built.
type Integration struct {
	ID          string
	Name        string
	Description string
	AccentColor string
	Icon        []byte // validated SVG; nil when the manifest has none

	Auth    AuthConfig
	API     APIConfig
	Actions []*Action // in manifest order

	Source   string // manifest file path
	Hash     string // hex SHA-256 of the manifest and its icon
	Warnings Problems

	idLine, idCol int // where the id is written, for cross-file errors
}

// SDKName is the name the SDK uses for the integration: custom.<id>.
func (in *Integration) SDKName() string { return "custom." + in.ID }

// AuthConfig says how a user connects.
type AuthConfig struct {
	Type              AuthType
	Inputs            []Input
	OAuth2            *OAuth2Config            // for AuthOAuth2
	ClientCredentials *ClientCredentialsConfig // for AuthClientCredentials
}

// Input is one field the end user fills in.
type Input struct {
	Key         string
	Label       string
	Help        string
	Placeholder string
	Secret      bool
	Required    bool
	Default     string
	Pattern     *regexp.Regexp // anchored; nil when the manifest sets none
	Enum        []string
	MaxLength   int
}

// OAuth2Config is the authorization code flow.
type OAuth2Config struct {
	AuthorizationURL    *Template
	TokenURL            *Template
	RevocationURL       *Template // nil when not declared
	ClientID            Value
	ClientSecret        *SecretRef
	Scopes              []string
	ScopeSeparator      string
	AuthorizationParams map[string]Value
	TokenParams         map[string]Value
	PKCE                bool
	TokenAuthStyle      TokenAuthStyle
	RefreshMargin       time.Duration
}

// ClientCredentialsConfig is the client credentials flow, with the client id
// and secret supplied by the end user.
type ClientCredentialsConfig struct {
	TokenURL          *Template
	Scopes            []string
	ScopeSeparator    string
	TokenParams       map[string]Value
	TokenAuthStyle    TokenAuthStyle
	ClientIDLabel     string
	ClientSecretLabel string
	RefreshMargin     time.Duration
}

// AuthorizationType is how proxied requests carry the credential.
type AuthorizationType string

// Authorization types.
const (
	AuthorizeBearer AuthorizationType = "bearer"
	AuthorizeHeader AuthorizationType = "header"
	AuthorizeQuery  AuthorizationType = "query"
	AuthorizeBasic  AuthorizationType = "basic"
)

// Authorization is compiled api.authorization.
type Authorization struct {
	Type     AuthorizationType
	Name     string    // header or query parameter name
	Value    *Template // bearer token, header value or query value
	Username *Template
	Password *Template
}

// Header is one static header.
type Header struct {
	Name  string
	Value Value
}

// APIConfig is how the gateway calls the provider's API.
type APIConfig struct {
	BaseURL       *Template
	Authorization Authorization
	Headers       []Header
	// TestEndpoint is a path template relative to BaseURL (TestIsPath) or an
	// absolute URL template on BaseURL's host; nil when not declared.
	TestEndpoint *Template
	TestIsPath   bool
	// TestMethod is the test request's method: GET (the default) or POST.
	TestMethod string
	// TestBody is a POST test request's JSON body; nil: none.
	TestBody []byte
	Timeout  time.Duration
	// Websocket lets callers upgrade proxied GET requests to a websocket
	// (api.websocket). Off by default: the proxy refuses every upgrade.
	Websocket bool
	// HealthCheck is how often the gateway calls TestEndpoint with each
	// connection's credential (api.healthCheck.interval); zero: never.
	HealthCheck time.Duration
}

// Defaults applied when a manifest leaves a field out.
const (
	DefaultAccentColor = "#4F46E5"
	DefaultTimeout     = 30 * time.Second
	MaxTimeout         = 5 * time.Minute
	// MinHealthCheck is the shortest api.healthCheck.interval allowed.
	MinHealthCheck       = 5 * time.Minute
	DefaultRefreshMargin = 60 * time.Second
	DefaultInputMaxLen   = 2048
)

// The manifest as written, decoded after the schema has accepted it.
type rawManifest struct {
	ID          string      `yaml:"id"`
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Icon        string      `yaml:"icon"`
	AccentColor string      `yaml:"accentColor"`
	Auth        rawAuth     `yaml:"auth"`
	API         rawAPI      `yaml:"api"`
	Actions     []rawAction `yaml:"actions"`
}

type rawAuth struct {
	Type              string                `yaml:"type"`
	OAuth2            *rawOAuth2            `yaml:"oauth2"`
	ClientCredentials *rawClientCredentials `yaml:"clientCredentials"`
	Inputs            []rawInput            `yaml:"inputs"`
}

type rawOAuth2 struct {
	AuthorizationURL    string            `yaml:"authorizationUrl"`
	TokenURL            string            `yaml:"tokenUrl"`
	RevocationURL       string            `yaml:"revocationUrl"`
	ClientID            string            `yaml:"clientId"`
	ClientSecret        string            `yaml:"clientSecret"`
	Scopes              []string          `yaml:"scopes"`
	ScopeSeparator      string            `yaml:"scopeSeparator"`
	AuthorizationParams map[string]string `yaml:"authorizationParams"`
	TokenParams         map[string]string `yaml:"tokenParams"`
	PKCE                *bool             `yaml:"pkce"`
	TokenAuthStyle      string            `yaml:"tokenAuthStyle"`
	RefreshMargin       string            `yaml:"refreshMargin"`
}

type rawClientCredentials struct {
	TokenURL          string            `yaml:"tokenUrl"`
	Scopes            []string          `yaml:"scopes"`
	ScopeSeparator    string            `yaml:"scopeSeparator"`
	TokenParams       map[string]string `yaml:"tokenParams"`
	TokenAuthStyle    string            `yaml:"tokenAuthStyle"`
	ClientIDLabel     string            `yaml:"clientIdLabel"`
	ClientSecretLabel string            `yaml:"clientSecretLabel"`
	RefreshMargin     string            `yaml:"refreshMargin"`
}

type rawInput struct {
	Key         string   `yaml:"key"`
	Label       string   `yaml:"label"`
	Help        string   `yaml:"help"`
	Placeholder string   `yaml:"placeholder"`
	Secret      bool     `yaml:"secret"`
	Required    *bool    `yaml:"required"`
	Default     *string  `yaml:"default"`
	Pattern     string   `yaml:"pattern"`
	Enum        []string `yaml:"enum"`
	MaxLength   int      `yaml:"maxLength"`
}

type rawAuthorization struct {
	Type     string  `yaml:"type"`
	Token    *string `yaml:"token"`
	Name     string  `yaml:"name"`
	Value    string  `yaml:"value"`
	Username *string `yaml:"username"`
	Password *string `yaml:"password"`
}

type rawAPI struct {
	BaseURL       string            `yaml:"baseUrl"`
	Authorization *rawAuthorization `yaml:"authorization"`
	Headers       map[string]string `yaml:"headers"`
	TestEndpoint  string            `yaml:"testEndpoint"`
	TestMethod    string            `yaml:"testMethod"`
	TestBody      *string           `yaml:"testBody"`
	Timeout       string            `yaml:"timeout"`
	Websocket     bool              `yaml:"websocket"`
	HealthCheck   *rawHealthCheck   `yaml:"healthCheck"`
}

type rawHealthCheck struct {
	Interval string `yaml:"interval"`
}
