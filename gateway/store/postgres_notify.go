package store

import (
	"context"
	"encoding/json"
	"unicode/utf8"
)

// notifyChannel is the LISTEN/NOTIFY channel on which every write of a
// connection is announced, in the transaction that makes it: a rolled back
// write announces nothing, and a listener hears of a write once it is
// visible.
const notifyChannel = "plugboard_connections"

// maxNotifyPayload: PostgreSQL refuses a payload of 8000 bytes or more.
const maxNotifyPayload = 7999

// changeNotice is the payload of a notification: which connections
// changed, never what they hold. The zero notice means that anything may
// have changed.
type changeNotice struct {
	ProjectID     string `json:"project_id"`
	UserID        string `json:"user_id"`
	IntegrationID string `json:"integration_id"`
}

// payload encodes n. Ids that JSON would alter (invalid UTF-8) or that do
// not fit in a notification give the zero notice's payload instead: every
// listener then drops everything, which is safe, where a wrong or failed
// notification would not be.
func (n changeNotice) payload() string {
	if !utf8.ValidString(n.ProjectID) || !utf8.ValidString(n.UserID) || !utf8.ValidString(n.IntegrationID) {
		return "{}"
	}
	b, err := json.Marshal(n)
	if err != nil || len(b) > maxNotifyPayload {
		return "{}"
	}
	return string(b)
}

// parseNotice decodes a payload. Anything else on the channel (a NOTIFY
// typed by hand, a future format) is the zero notice.
func parseNotice(payload string) changeNotice {
	var n changeNotice
	if err := json.Unmarshal([]byte(payload), &n); err != nil || n.ProjectID == "" || n.UserID == "" || n.IntegrationID == "" {
		return changeNotice{}
	}
	return n
}

// notify announces, when tx commits, that a connection of the user for the
// integration changed.
func notify(ctx context.Context, q pgQuerier, projectID, userID, integrationID string) error {
	n := changeNotice{ProjectID: projectID, UserID: userID, IntegrationID: integrationID}
	_, err := q.Exec(ctx, `SELECT pg_notify('`+notifyChannel+`', $1)`, n.payload())
	return err
}
