// Package connection is what an end user's connected account is:
// Connection and its secret Credential, and the Refresher that keeps a
// connection's token fresh. The store persists connections, the oauth
// client obtains tokens, the proxy uses them; each depends on this package
// and none of them on another.
package connection

import (
	"errors"
	"time"
)

// Status of a connection.
type Status string

const (
	// StatusValid: the credential worked when last used or tested.
	StatusValid Status = "valid"
	// StatusNeedsReconnect: the provider refused the credential for good
	// (invalid_grant, revoked); the user must connect again.
	StatusNeedsReconnect Status = "needs_reconnect"
)

// ErrNotFound: no such connection (for this user).
var ErrNotFound = errors.New("connection not found")

// ErrConflict: the connection changed since it was read.
var ErrConflict = errors.New("connection was changed concurrently")

// Credential is the secret part of a connection. It is encrypted as a whole
// before it is written and never logged (String and LogValue hide it).
type Credential struct {
	AccessToken  string            `json:"access_token,omitempty"`
	RefreshToken string            `json:"refresh_token,omitempty"`
	TokenType    string            `json:"token_type,omitempty"`
	ClientID     string            `json:"client_id,omitempty"`     // client credentials: what the user typed
	ClientSecret string            `json:"client_secret,omitempty"` // client credentials: what the user typed
	Inputs       map[string]string `json:"inputs,omitempty"`        // everything the user typed, secret or not
	Extra        map[string]string `json:"extra,omitempty"`         // other string fields of the token response
	// RefreshExpiresAt is when the refresh token stops working unused
	// (the token response's refresh_token_expires_in, as some providers
	// send); zero when the provider did not say.
	RefreshExpiresAt time.Time `json:"refresh_expires_at,omitzero"`
}

// Connection is one credential of one user for one integration in one
// project. A user may hold several for the same integration; one is the default.
type Connection struct {
	ID            string // credential id: a random (version 4) UUID
	ProjectID     string
	UserID        string
	IntegrationID string // manifest id, without the custom. prefix
	IsDefault     bool
	Status        Status
	Credential    Credential
	ExpiresAt     time.Time // access token expiry; zero when unknown or not applicable
	LastError     string    // last provider error, for operators and the portal; never a secret
	// LastRefreshAt: when a token refresh last succeeded; zero if never.
	LastRefreshAt time.Time
	// LastUsedAt: when a proxied request last used the connection, to
	// about a minute (see UsageRecorder); zero if never. Read only: the
	// store writes it through MarkUsed, never through Update.
	LastUsedAt time.Time
	// LastCheckedAt, LastCheckOKAt and CheckError are the last health
	// check's (api.healthCheck): when it ran, when one last succeeded, and
	// why the last one failed ("" when it succeeded). Read only: the store
	// writes them through RecordCheck, never through Update.
	LastCheckedAt time.Time
	LastCheckOKAt time.Time
	CheckError    string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int64 // incremented by every write
}

// Renewable reports whether the credential can get a new access token
// without the user: it holds a refresh token, or client credentials.
func (c Credential) Renewable() bool {
	return c.RefreshToken != "" || c.ClientSecret != ""
}

// CheckFailed reports whether the connection's last health check failed.
func (c *Connection) CheckFailed() bool { return CheckFailed(c.LastCheckedAt, c.CheckError) }

// CheckFailed reports whether a health check made at checkedAt (zero:
// never) failed with checkError.
func CheckFailed(checkedAt time.Time, checkError string) bool {
	return !checkedAt.IsZero() && checkError != ""
}
