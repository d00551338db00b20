package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

// Inventory is the operators' view of connections, across projects and
// users (the admin API). Nothing it returns carries a secret but what a
// Connection already redacts: listings and counts never decrypt a
// credential at all.
type Inventory interface {
	// ListConnections returns one page of the connections f selects, in
	// creation order (created_at, then id). Walking the pages with
	// NextCursor returns every connection that existed when the walk began
	// and still exists exactly once, however many are created meanwhile
	// (those are returned at most once). A malformed cursor is ErrBadCursor.
	ListConnections(ctx context.Context, f ConnectionFilter) (ConnectionPage, error)
	// GetConnection returns one connection, whoever's it is.
	GetConnection(ctx context.Context, id string) (*connection.Connection, error)
	// CountConnections counts the connections by integration and Health at
	// now; combinations with none are left out.
	CountConnections(ctx context.Context, now time.Time) ([]ConnectionCount, error)
	// MarkUsed records when connections were last used (id -> time). A
	// time is written only if it is later than the stored one. It changes
	// neither Version nor UpdatedAt and announces nothing: it is
	// bookkeeping, not a change a cache or a refresh must see.
	MarkUsed(ctx context.Context, used map[string]time.Time) error
	// RecordCheck records a health check of connection id made at at:
	// passed when checkError is "", else failed with it. Like MarkUsed it
	// changes neither Version nor UpdatedAt; unlike it, it tells the
	// outbox (ChangeChecked), with the previous check, in its
	// transaction. An unknown id is ErrNotFound.
	RecordCheck(ctx context.Context, id string, at time.Time, checkError string) error
}

// Page sizes of ListConnections.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// ErrBadCursor: a ListConnections cursor that no page handed out.
var ErrBadCursor = errors.New("cursor is not one a page of this listing returned")

// ConnectionFilter selects connections for ListConnections; empty fields
// select everything.
type ConnectionFilter struct {
	ProjectID     string
	UserID        string
	IntegrationID string
	Health        connection.Health // as computed at Now
	Cursor        string            // a previous page's NextCursor; "" for the first page
	Limit         int               // 1..MaxPageLimit; 0 means DefaultPageLimit
	Now           time.Time         // when Health is computed; zero means time.Now()
}

// ConnectionPage is one page of ListConnections.
type ConnectionPage struct {
	Connections []ConnectionInfo
	NextCursor  string // "" on the last page
}

// ConnectionInfo is a connection without its credential, as listings read
// it: Renewable is kept in clear beside the sealed credential for them.
type ConnectionInfo struct {
	ID            string
	ProjectID     string
	UserID        string
	IntegrationID string
	IsDefault     bool
	Status        connection.Status
	Renewable     bool // a refresh token or client credentials can renew the access token
	ExpiresAt     time.Time
	LastError     string
	LastRefreshAt time.Time
	LastUsedAt    time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// The last health check (connection.Connection's fields of that name).
	LastCheckedAt time.Time
	LastCheckOKAt time.Time
	CheckError    string
}

// Health computes the connection's Health at now, and why it needs reconnecting.
func (c ConnectionInfo) Health(now time.Time) (connection.Health, string) {
	return connection.HealthOf(c.Status, c.ExpiresAt, c.Renewable, c.LastError, now)
}

// ConnectionCount is one value of CountConnections.
type ConnectionCount struct {
	IntegrationID string
	Health        connection.Health
	Count         int
}

// pageLimit checks f.Limit and applies its default.
func (f ConnectionFilter) pageLimit() (int, error) {
	switch {
	case f.Limit == 0:
		return DefaultPageLimit, nil
	case f.Limit < 0 || f.Limit > MaxPageLimit:
		return 0, fmt.Errorf("store: list connections: limit %d is not between 1 and %d", f.Limit, MaxPageLimit)
	}
	return f.Limit, nil
}

func (f ConnectionFilter) now() time.Time {
	if f.Now.IsZero() {
		return time.Now()
	}
	return f.Now
}

func checkHealth(h connection.Health) error {
	for _, known := range connection.Healths {
		if h == known {
			return nil
		}
	}
	return fmt.Errorf("store: list connections: unknown status %q", h)
}

// A cursor is where a page ended: the last row's creation time (Unix
// milliseconds) and id, base64url-encoded so that callers treat it as
// opaque.
func encodeCursor(createdAt time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(createdAt.UnixMilli(), 10) + "/" + id))
}

func decodeCursor(s string) (createdAt int64, id string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	ms, id, ok := strings.Cut(string(raw), "/")
	createdAt, err = strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || !validConnectionID(id) {
		return 0, "", ErrBadCursor
	}
	return createdAt, id, nil
}

// healthSQL computes connection.HealthOf in SQL: needs_reconnect if so
// marked, or expired with nothing to renew it; expired_refreshable if
// expired and renewable; else valid. nowParam is the placeholder of now,
// renewable the backend's boolean test of the column (a row written before
// the column existed and not yet filled in counts as not renewable).
func healthSQL(nowParam, renewable string) string {
	return `CASE WHEN status = 'needs_reconnect' THEN 'needs_reconnect'
		WHEN expires_at IS NOT NULL AND expires_at <= ` + nowParam + ` THEN
			CASE WHEN ` + renewable + ` THEN 'expired_refreshable' ELSE 'needs_reconnect' END
		ELSE 'valid' END`
}
