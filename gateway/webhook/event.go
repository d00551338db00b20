// Package webhook tells the app what happens to its users' connections:
// events (connection.created, .reconnected, .deleted, .refresh_failed,
// .health_changed) are enqueued as River jobs in the transaction of the store write that
// caused them, then delivered at least once to the project's endpoints,
// signed as the Standard Webhooks specification says. connection.test_failed
// (a connect attempt whose credential test failed, where nothing is
// stored) is enqueued on its own. The package also runs the periodic
// health checks (health.go) on the same River client.
package webhook

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
)

// Event types.
const (
	ConnectionCreated       = "connection.created"
	ConnectionReconnected   = "connection.reconnected"
	ConnectionDeleted       = "connection.deleted"
	ConnectionRefreshFailed = "connection.refresh_failed"
	ConnectionHealthChanged = "connection.health_changed"
	ConnectionTestFailed    = "connection.test_failed"
)

// Types lists every event type, for configuration checks.
var Types = []string{ConnectionCreated, ConnectionReconnected, ConnectionDeleted, ConnectionRefreshFailed,
	ConnectionHealthChanged, ConnectionTestFailed}

// Event is the body of a webhook, in the Standard Webhooks shape (type,
// timestamp, data) with the event's id, which is also the webhook-id
// header. It never holds a secret.
type Event struct {
	ID        string    `json:"id"` // msg_<uuid>: the same on every attempt and redelivery
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// Data describes the connection an event is about.
type Data struct {
	ProjectID    string      `json:"projectId"`
	UserID       string      `json:"userId"`
	Integration  Integration `json:"integration"`
	CredentialID string      `json:"credentialId"`
	Status       string      `json:"status"`
	// NeedsReconnect: the user must connect again (refresh_failed).
	NeedsReconnect bool `json:"needsReconnect"`
	// Error is the provider's answer that failed the refresh
	// (refresh_failed), the failed health check (health_changed to
	// unhealthy) or the failed credential test (test_failed), as the
	// gateway records it for operators.
	Error string `json:"error,omitempty"`
	// Healthy is the last health check's outcome (health_changed only).
	Healthy *bool `json:"healthy,omitempty"`
	// CheckedAt is when that check ran (health_changed only).
	CheckedAt *time.Time `json:"checkedAt,omitempty"`
}

// Integration names the integration both ways the SDK does.
type Integration struct {
	ID   string `json:"id"`   // the manifest id: github
	Type string `json:"type"` // the SDK's name: custom.github
}

// FromChange returns the event a store write means, if any. A refresh
// failed when an update turned the status to needs_reconnect; a
// reconnect is an update of a valid connection that stored a credential
// without refreshing it (a refresh always advances LastRefreshAt).
func FromChange(ch store.Change, now time.Time) (Event, bool) {
	c := ch.Connection
	var typ string
	switch ch.Op {
	case store.ChangeCreated:
		typ = ConnectionCreated
	case store.ChangeDeleted:
		typ = ConnectionDeleted
	case store.ChangeUpdated:
		switch {
		case c.Status == connection.StatusNeedsReconnect && ch.PreviousStatus != connection.StatusNeedsReconnect:
			typ = ConnectionRefreshFailed
		case c.Status == connection.StatusValid && c.LastRefreshAt.Equal(ch.PreviousLastRefreshAt):
			typ = ConnectionReconnected
		default:
			return Event{}, false
		}
	case store.ChangeChecked:
		// valid -> invalid and back. A check that ended in a refused
		// refresh made the connection needs_reconnect, which
		// refresh_failed has told already.
		if c.Status != connection.StatusValid ||
			c.CheckFailed() == connection.CheckFailed(ch.PreviousCheckedAt, ch.PreviousCheckError) {
			return Event{}, false
		}
		typ = ConnectionHealthChanged
	default:
		return Event{}, false
	}
	e := Event{
		ID: "msg_" + uuid.NewString(), Type: typ, Timestamp: now.UTC().Truncate(time.Millisecond),
		Data: Data{
			ProjectID: c.ProjectID, UserID: c.UserID, CredentialID: c.ID, Status: string(c.Status),
			Integration:    Integration{ID: c.IntegrationID, Type: "custom." + c.IntegrationID},
			NeedsReconnect: c.Status == connection.StatusNeedsReconnect,
		},
	}
	switch typ {
	case ConnectionRefreshFailed:
		e.Data.Error = c.LastError
	case ConnectionHealthChanged:
		healthy, at := !c.CheckFailed(), c.LastCheckedAt.UTC()
		e.Data.Healthy, e.Data.CheckedAt, e.Data.Error = &healthy, &at, c.CheckError
	}
	return e, true
}

// TestFailed is the connection.test_failed event of a connect attempt
// whose credential test failed: c names the project, user, integration
// and (when reconnecting) the credential; why is what the user was told
// and the provider's status, never a secret.
func TestFailed(c connection.Connection, why string, now time.Time) Event {
	return Event{
		ID: "msg_" + uuid.NewString(), Type: ConnectionTestFailed, Timestamp: now.UTC().Truncate(time.Millisecond),
		Data: Data{
			ProjectID: c.ProjectID, UserID: c.UserID, CredentialID: c.ID, Status: string(c.Status),
			Integration: Integration{ID: c.IntegrationID, Type: "custom." + c.IntegrationID}, Error: why,
		},
	}
}

// body is the exact bytes sent (and signed) on every attempt.
func (e Event) body() ([]byte, error) { return json.Marshal(e) }
