// Package store keeps connections: which end user connected which
// integration, with what credential. Everything secret is encrypted at rest
// with a Keyring. SQLite is the embedded default; PostgreSQL (several
// replicas) implements the same interface and passes the same conformance
// tests (storetest).
package store

import (
	"context"
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

// Errors every implementation returns (wrapped or as is).
var (
	ErrNotFound = errors.New("connection not found")
	// ErrKeyUnknown: a ciphertext names an encryption key that is not in
	// the keyring (a key was removed from PLUGBOARD_ENCRYPTION_KEYS too early).
	ErrKeyUnknown = errors.New("encryption key not in keyring")
)

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
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int64 // incremented by every write
}

// Store is the persistence of connections. All methods are safe for
// concurrent use.
type Store interface {
	// Create inserts c, assigning ID (if empty), timestamps and Version.
	// The user's first connection for an integration becomes its default.
	Create(ctx context.Context, c *Connection) error
	// Get returns one connection of a user.
	Get(ctx context.Context, projectID, userID, id string) (*Connection, error)
	// Default returns the user's default connection for an integration.
	Default(ctx context.Context, projectID, userID, integrationID string) (*Connection, error)
	// List returns all connections of a user, oldest first.
	List(ctx context.Context, projectID, userID string) ([]*Connection, error)
	// Count returns how many connections a user holds for an integration,
	// or for all integrations when integrationID is empty (the gateway's
	// caps on connections per user).
	Count(ctx context.Context, projectID, userID, integrationID string) (int, error)
	// Update writes c's mutable fields (IsDefault excepted: see SetDefault)
	// if c.Version is still current, and bumps c.Version. A stale version
	// is ErrConflict.
	Update(ctx context.Context, c *Connection) error
	// SetDefault makes id the user's default for its integration.
	SetDefault(ctx context.Context, projectID, userID, id string) error
	// Delete removes a connection; if it was the default, the user's next
	// oldest connection for the integration becomes the default.
	Delete(ctx context.Context, projectID, userID, id string) error
	// WithLock runs fn holding the connection's refresh lock (one holder
	// at a time for a connection, across every process sharing the store),
	// with the connection as read after the lock was taken. If fn returns a
	// non-nil connection, it is written (as Update) before the lock is released.
	WithLock(ctx context.Context, id string, fn func(current *Connection) (*Connection, error)) (*Connection, error)
	// PutTicket stores a short-lived, single-use record (a connect link, an
	// OAuth state) under kind and key until expires; the value is sealed.
	PutTicket(ctx context.Context, kind, key string, value []byte, expires time.Time) error
	// TakeTicket returns a ticket's value and deletes it atomically: of
	// concurrent takers, across processes, exactly one succeeds. Unknown or
	// expired tickets are ErrNotFound.
	TakeTicket(ctx context.Context, kind, key string) ([]byte, error)
	// Rotate re-encrypts every row with the keyring's current key and
	// returns how many rows it rewrote.
	Rotate(ctx context.Context) (int, error)
	Close() error
}

// Notifier is implemented by stores that can tell a process when another
// one writes connections, so that what it cached goes stale no longer than
// a notification takes: PostgreSQL announces every write to every replica;
// SQLite, which serves one process, never calls fn.
type Notifier interface {
	// Listen calls fn after each write of a connection (Create, Update,
	// SetDefault, Delete, WithLock's write) with the connection's project,
	// user and integration; never with secrets. Empty ids mean that
	// anything may have changed (notifications may have been missed): drop
	// everything. Listen blocks until ctx ends.
	Listen(ctx context.Context, fn func(projectID, userID, integrationID string)) error
}

// ErrConflict: the connection changed since it was read.
var ErrConflict = errors.New("connection was changed concurrently")
