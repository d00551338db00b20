// Package store keeps connections: which end user connected which
// integration, with what credential. Everything secret is encrypted at rest
// with a Keyring. SQLite is the embedded default; PostgreSQL (several
// replicas) implements the same interface and passes the same conformance
// tests (storetest).
package store

import (
	"context"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/seal"
)

// Store is the persistence of the gateway's shared state, by role:
// connections, tickets (short-lived single-use records of the connect
// flows), the operators' inventory of connections across users, and end
// users' workflow choices. All methods are safe for concurrent use.
type Store interface {
	Connections
	Tickets
	Inventory
	WorkflowSettings
	// Rotate re-encrypts every row with the keyring's current key and
	// returns how many rows it rewrote.
	Rotate(ctx context.Context) (int, error)
	Close() error
}

// Connections persists end users' connections, their credentials sealed.
type Connections interface {
	// Create inserts c, assigning ID (if empty), timestamps and Version.
	// The user's first connection for an integration becomes its default.
	Create(ctx context.Context, c *connection.Connection) error
	// Get returns one connection of a user.
	Get(ctx context.Context, projectID, userID, id string) (*connection.Connection, error)
	// Default returns the user's default connection for an integration.
	Default(ctx context.Context, projectID, userID, integrationID string) (*connection.Connection, error)
	// List returns all connections of a user, oldest first.
	List(ctx context.Context, projectID, userID string) ([]*connection.Connection, error)
	// Count returns how many connections a user holds for an integration,
	// or for all integrations when integrationID is empty (the gateway's
	// caps on connections per user).
	Count(ctx context.Context, projectID, userID, integrationID string) (int, error)
	// Update writes c's mutable fields (IsDefault excepted: see SetDefault)
	// if c.Version is still current, and bumps c.Version. A stale version
	// is ErrConflict.
	Update(ctx context.Context, c *connection.Connection) error
	// SetDefault makes id the user's default for its integration.
	SetDefault(ctx context.Context, projectID, userID, id string) error
	// Delete removes a connection; if it was the default, the user's next
	// oldest connection for the integration becomes the default.
	Delete(ctx context.Context, projectID, userID, id string) error
	// WithLock runs fn holding the connection's refresh lock (one holder
	// at a time for a connection, across every process sharing the store),
	// with the connection as read after the lock was taken. If fn returns a
	// non-nil connection, it is written (as Update) before the lock is released.
	WithLock(ctx context.Context, id string, fn func(current *connection.Connection) (*connection.Connection, error)) (*connection.Connection, error)
}

// Tickets keeps short-lived records (a connect link, an OAuth state, an
// SDK session's result) under a kind and a key, sealed.
type Tickets interface {
	// PutTicket stores value under kind and key until expires, replacing
	// nothing: keys are random or derived from random values.
	PutTicket(ctx context.Context, kind, key string, value []byte, expires time.Time) error
	// TakeTicket returns a ticket's value and deletes it atomically: of
	// concurrent takers, across processes, exactly one succeeds. Unknown or
	// expired tickets are ErrNotFound.
	TakeTicket(ctx context.Context, kind, key string) ([]byte, error)
	// PeekTicket returns a ticket's value and leaves it in place (a result
	// polled until its reader deletes it). Unknown or expired: ErrNotFound.
	PeekTicket(ctx context.Context, kind, key string) ([]byte, error)
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

// Errors every implementation returns (wrapped or as is).
var (
	ErrNotFound = connection.ErrNotFound
	ErrConflict = connection.ErrConflict
	// ErrKeyUnknown: a ciphertext names an encryption key that is not in
	// the keyring (a key was removed from PLUGBOARD_ENCRYPTION_KEYS too early).
	ErrKeyUnknown = seal.ErrKeyUnknown
)
