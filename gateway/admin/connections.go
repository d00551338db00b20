package admin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
)

// Connections is the operators' view of end users' connections: a
// filtered, paginated listing, one connection in detail, and disconnecting.
// The admin API's JSON handlers call it, and so can any other operator
// surface (an HTML console): everything they show comes from here, and
// nothing here holds a token, a client secret or a secret input's value.
type Connections struct {
	Store        store.Inventory
	Integrations Integrations
	// Disconnector revokes at the provider and deletes (connect.Flows);
	// nil makes Delete fail.
	Disconnector Disconnector
	Now          func() time.Time // default time.Now
}

// Integrations finds the loaded integration of a connection (the catalog).
type Integrations interface {
	Lookup(id string) (*manifest.Integration, bool)
}

// Disconnector disconnects: connect.Flows.Disconnect. in is nil when the
// integration is no longer loaded.
type Disconnector interface {
	Disconnect(ctx context.Context, in *manifest.Integration, c *connection.Connection) error
}

// Filter selects connections: empty fields select everything.
type Filter struct {
	Project     string
	User        string
	Integration string
	Status      connection.Health
	Cursor      string // NextCursor of the previous page
	Limit       int    // 1..MaxLimit; 0 means DefaultLimit
}

// Page sizes.
const (
	DefaultLimit = store.DefaultPageLimit
	MaxLimit     = store.MaxPageLimit
)

// FilterError is a filter that cannot be applied, naming the query
// parameter at fault.
type FilterError struct {
	Param   string
	Message string
}

func (e *FilterError) Error() string { return e.Param + ": " + e.Message }

// ErrNotFound: no connection has that id.
var ErrNotFound = errors.New("no connection has that id")

// filterParams are the query parameters ParseFilter reads.
var filterParams = []string{"project", "user", "integration", "status", "cursor", "limit"}

// ParseFilter reads a Filter from query parameters (project, user,
// integration, status, cursor, limit). An unknown or repeated parameter,
// an unknown status or a limit out of range is a *FilterError.
func ParseFilter(q url.Values) (Filter, error) {
	for k, vs := range q {
		if !slices.Contains(filterParams, k) {
			return Filter{}, &FilterError{Param: k, Message: "unknown parameter; the filters are " + strings.Join(filterParams, ", ")}
		}
		if len(vs) > 1 {
			return Filter{}, &FilterError{Param: k, Message: "given more than once"}
		}
	}
	f := Filter{Project: q.Get("project"), User: q.Get("user"), Integration: q.Get("integration"),
		Status: connection.Health(q.Get("status")), Cursor: q.Get("cursor")}
	f.Integration = strings.TrimPrefix(f.Integration, "custom.")
	if f.Status != "" && !slices.Contains(connection.Healths, f.Status) {
		return Filter{}, &FilterError{Param: "status", Message: fmt.Sprintf("%q is not one of %s", f.Status, healthList())}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return Filter{}, &FilterError{Param: "limit", Message: fmt.Sprintf("%q is not a number from 1 to %d", s, MaxLimit)}
		}
		f.Limit = n
	}
	return f, nil
}

func healthList() string {
	var s []string
	for _, h := range connection.Healths {
		s = append(s, string(h))
	}
	return strings.Join(s, ", ")
}

// Page is one page of a listing.
type Page struct {
	Connections []Summary `json:"connections"`
	// NextCursor continues the listing (the cursor parameter); "" on the
	// last page.
	NextCursor string `json:"nextCursor"`
}

// Summary is a connection as listings show it.
type Summary struct {
	ID          string          `json:"id"`
	Project     string          `json:"project"`
	User        string          `json:"user"`
	Integration IntegrationName `json:"integration"`
	IsDefault   bool            `json:"isDefault"`
	// Status is computed when asked: valid, expired_refreshable (the access
	// token expired; a refresh token or client credentials renew it at its
	// next use) or needs_reconnect, with StatusReason saying why.
	Status        connection.Health `json:"status"`
	StatusReason  string            `json:"statusReason,omitempty"`
	ExpiresAt     *time.Time        `json:"expiresAt"` // access token expiry; null when unknown or not applicable
	LastRefreshAt *time.Time        `json:"lastRefreshAt"`
	LastUsedAt    *time.Time        `json:"lastUsedAt"` // to about a minute
	LastError     string            `json:"lastError,omitempty"`
	// HealthCheck is the last periodic health check (api.healthCheck, or
	// the credential test when the user last connected); null if none.
	HealthCheck *HealthCheck `json:"healthCheck"`
	CreatedAt   time.Time    `json:"createdAt"`
	UpdatedAt   time.Time    `json:"updatedAt"`
}

// HealthCheck is a connection's last health check. OK is false when it
// failed, with Error saying how; the app then sees credentialStatus INVALID.
type HealthCheck struct {
	LastCheckedAt time.Time  `json:"lastCheckedAt"`
	OK            bool       `json:"ok"`
	LastOKAt      *time.Time `json:"lastOkAt"` // null: never passed
	Error         string     `json:"error,omitempty"`
}

// IntegrationName names a connection's integration; Loaded is false (and
// Name empty) when no manifest serves it any more.
type IntegrationName struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Loaded bool   `json:"loaded"`
}

// Detail is one connection: Summary, and what the user typed minus secrets.
type Detail struct {
	Summary
	AuthType string `json:"authType,omitempty"` // when the integration is loaded
	// Inputs are the values of the inputs the manifest does not mark
	// secret; empty when the integration is not loaded (then whether an
	// input is secret is unknown, and only InputKeys are shown).
	Inputs map[string]string `json:"inputs"`
	// InputKeys lists every input the user filled in, secret or not.
	InputKeys []string `json:"inputKeys"`
}

func (a *Connections) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// List returns one page of the connections f selects, oldest first.
func (a *Connections) List(ctx context.Context, f Filter) (Page, error) {
	now := a.now()
	page, err := a.Store.ListConnections(ctx, store.ConnectionFilter{ProjectID: f.Project, UserID: f.User,
		IntegrationID: f.Integration, Health: f.Status, Cursor: f.Cursor, Limit: f.Limit, Now: now})
	if errors.Is(err, store.ErrBadCursor) {
		return Page{}, &FilterError{Param: "cursor", Message: "not a cursor this listing returned; start again without it"}
	}
	if err != nil {
		return Page{}, err
	}
	out := Page{Connections: make([]Summary, 0, len(page.Connections)), NextCursor: page.NextCursor}
	for _, c := range page.Connections {
		out.Connections = append(out.Connections, a.summary(c, now))
	}
	return out, nil
}

func (a *Connections) summary(c store.ConnectionInfo, now time.Time) Summary {
	health, why := c.Health(now)
	return Summary{
		ID: c.ID, Project: c.ProjectID, User: c.UserID, Integration: a.name(c.IntegrationID), IsDefault: c.IsDefault,
		Status: health, StatusReason: why, ExpiresAt: timeOrNil(c.ExpiresAt), LastRefreshAt: timeOrNil(c.LastRefreshAt),
		LastUsedAt: timeOrNil(c.LastUsedAt), LastError: c.LastError, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		HealthCheck: healthCheckOf(c),
	}
}

func healthCheckOf(c store.ConnectionInfo) *HealthCheck {
	if c.LastCheckedAt.IsZero() {
		return nil
	}
	return &HealthCheck{LastCheckedAt: c.LastCheckedAt, OK: !connection.CheckFailed(c.LastCheckedAt, c.CheckError),
		LastOKAt: timeOrNil(c.LastCheckOKAt), Error: c.CheckError}
}

// Get returns one connection in detail, whoever's it is; ErrNotFound if none.
func (a *Connections) Get(ctx context.Context, id string) (Detail, error) {
	c, err := a.Store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Detail{}, ErrNotFound
	}
	if err != nil {
		return Detail{}, err
	}
	return a.detail(c), nil
}

func (a *Connections) detail(c *connection.Connection) Detail {
	info := store.ConnectionInfo{ID: c.ID, ProjectID: c.ProjectID, UserID: c.UserID, IntegrationID: c.IntegrationID,
		IsDefault: c.IsDefault, Status: c.Status, Renewable: c.Credential.Renewable(), ExpiresAt: c.ExpiresAt, LastError: c.LastError,
		LastRefreshAt: c.LastRefreshAt, LastUsedAt: c.LastUsedAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		LastCheckedAt: c.LastCheckedAt, LastCheckOKAt: c.LastCheckOKAt, CheckError: c.CheckError}
	d := Detail{Summary: a.summary(info, a.now()), Inputs: map[string]string{}, InputKeys: []string{}}
	for k := range c.Credential.Inputs {
		d.InputKeys = append(d.InputKeys, k)
	}
	slices.Sort(d.InputKeys)
	in, ok := a.lookup(c.IntegrationID)
	if !ok {
		return d
	}
	d.AuthType = string(in.Auth.Type)
	// Only inputs the manifest declares, and not secret: an input the
	// manifest no longer declares might have been secret.
	for _, decl := range in.Auth.Inputs {
		if v, ok := c.Credential.Inputs[decl.Key]; ok && !decl.Secret {
			d.Inputs[decl.Key] = v
		}
	}
	return d
}

// Delete disconnects the connection: revoked at the provider when its
// manifest declares revocation (and is loaded), then deleted.
// ErrNotFound if there is no such connection.
func (a *Connections) Delete(ctx context.Context, id string) error {
	if a.Disconnector == nil {
		return errors.New("disconnecting needs the connect flows, which this gateway does not run")
	}
	c, err := a.Store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	in, _ := a.lookup(c.IntegrationID)
	err = a.Disconnector.Disconnect(ctx, in, c)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound // deleted meanwhile
	}
	return err
}

func (a *Connections) lookup(id string) (*manifest.Integration, bool) {
	if a.Integrations == nil {
		return nil, false
	}
	in, ok := a.Integrations.Lookup(id)
	return in, ok && in != nil
}

func (a *Connections) name(id string) IntegrationName {
	if in, ok := a.lookup(id); ok {
		return IntegrationName{ID: id, Name: in.Name, Loaded: true}
	}
	return IntegrationName{ID: id}
}

// Counts are the connections by integration and status, for the gauge
// plugboard_connections (and a console's summary).
func (a *Connections) Counts(ctx context.Context) ([]store.ConnectionCount, error) {
	return a.Store.CountConnections(ctx, a.now())
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
