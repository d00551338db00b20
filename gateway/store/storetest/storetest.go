// Package storetest is the conformance suite of store.Store: every backend
// (SQLite, PostgreSQL) runs it, so they behave alike.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, kr *seal.Keyring) store.Store { … })
//	}
package storetest

import (
	"crypto/rand"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
)

// Opener opens the backend under test with keyring kr. The first call
// within a test (t) returns a store on a new, empty database; later calls
// within the same test reopen that same database, after the suite has
// closed the previous store. That is how the suite restarts a store with
// another keyring. Key a database by t.Name() to get this behaviour.
// The opener should also register a t.Cleanup that closes the store (Close
// may then run twice).
type Opener func(t *testing.T, kr *seal.Keyring) store.Store

// Run runs every conformance test against the backend open opens.
func Run(t *testing.T, open Opener) {
	h := &harness{open: open}
	for _, tc := range []struct {
		name string
		test func(t *testing.T, h *harness)
	}{
		{"CreateAssignsFields", testCreateAssignsFields},
		{"CreateRejectsInvalid", testCreateRejectsInvalid},
		{"CreateDuplicateID", testCreateDuplicateID},
		{"CreateIsDefaultTakesOver", testCreateIsDefaultTakesOver},
		{"ConcurrentCreateOneDefault", testConcurrentCreateOneDefault},
		{"RoundTrip", testRoundTrip},
		{"Default", testDefault},
		{"ListOldestFirst", testListOldestFirst},
		{"Count", testCount},
		{"Isolation", testIsolation},
		{"Update", testUpdate},
		{"UpdateConflict", testUpdateConflict},
		{"UpdateNotFound", testUpdateNotFound},
		{"SetDefault", testSetDefault},
		{"DeletePromotesOldest", testDeletePromotesOldest},
		{"WithLockSerialises", testWithLockSerialises},
		{"WithLockNilWritesNothing", testWithLockNilWritesNothing},
		{"WithLockErrorWritesNothing", testWithLockErrorWritesNothing},
		{"WithLockSeesLatest", testWithLockSeesLatest},
		{"WithLockNotFound", testWithLockNotFound},
		{"WithLockHonoursContext", testWithLockHonoursContext},
		{"InventoryFilters", testInventoryFilters},
		{"InventoryPagination", testInventoryPagination},
		{"InventoryRejects", testInventoryRejects},
		{"InventoryNoSecrets", testInventoryNoSecrets},
		{"GetConnectionAnyUser", testGetConnectionAnyUser},
		{"CountConnections", testCountConnections},
		{"MarkUsed", testMarkUsed},
		{"RecordCheck", testRecordCheck},
		{"LastRefreshAndRenewable", testLastRefreshAndRenewable},
		{"Rotate", testRotate},
		{"RotateUnknownKey", testRotateUnknownKey},
		{"TicketsSingleUse", testTicketsSingleUse},
		{"TicketsExpire", testTicketsExpire},
		{"TicketsOneTaker", testTicketsOneTaker},
		{"TicketsPeek", testTicketsPeek},
		{"WorkflowChoices", testWorkflowChoices},
		{"WorkflowSettingsChecked", testWorkflowSettingsChecked},
		{"WorkflowSettingsKept", testWorkflowSettingsKept},
		{"WorkflowConcurrentSet", testWorkflowConcurrentSet},
		{"WorkflowSetAllOrNone", testWorkflowSetAllOrNone},
		{"WorkflowRunsCreate", testWorkflowRunsCreate},
		{"WorkflowRunsSaveAndSteps", testWorkflowRunsSaveAndSteps},
		{"WorkflowRunsList", testWorkflowRunsList},
		{"WorkflowRunsStartLimits", testWorkflowRunsStartLimits},
		{"WorkflowRunsQueueCap", testWorkflowRunsQueueCap},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, h) })
	}
}

type harness struct {
	open Opener
}

// fresh opens a store on a new database with a one-key keyring.
func (h *harness) fresh(t *testing.T) store.Store {
	t.Helper()
	return h.open(t, Keyring(t, Key(t, "k1")))
}

// Key returns a new keyring entry with the given key id.
func Key(t testing.TB, kid string) string {
	t.Helper()
	entry, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := strings.Cut(entry, ":")
	return kid + ":" + key
}

// Keyring parses entries (current first) into a keyring.
func Keyring(t testing.TB, entries ...string) *seal.Keyring {
	t.Helper()
	kr, err := seal.ParseKeyring(strings.Join(entries, ","))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// newConnection returns an unsaved connection with every field set.
func newConnection(project, user, integration string) *connection.Connection {
	return &connection.Connection{
		ProjectID:     project,
		UserID:        user,
		IntegrationID: integration,
		Status:        connection.StatusValid,
		Credential: connection.Credential{
			AccessToken:  "at-" + randomish(),
			RefreshToken: "rt-" + randomish(),
			TokenType:    "Bearer",
			ClientID:     "client-id",
			ClientSecret: "client-secret-" + randomish(),
			Inputs:       map[string]string{"subdomain": "acme", "apiKey": "ké\"y\n" + randomish()},
			Extra:        map[string]string{"scope": "read write"},
		},
		ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Millisecond),
		LastError: "",
	}
}

// randomish makes values distinct between connections.
func randomish() string { return rand.Text()[:12] }

func create(t *testing.T, s store.Store, c *connection.Connection) *connection.Connection {
	t.Helper()
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return c
}

func get(t *testing.T, s store.Store, c *connection.Connection) *connection.Connection {
	t.Helper()
	got, err := s.Get(t.Context(), c.ProjectID, c.UserID, c.ID)
	if err != nil {
		t.Fatalf("Get(%s): %v", c.ID, err)
	}
	return got
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// sameConnection fails unless got equals want field by field (times by
// time.Equal).
func sameConnection(t *testing.T, got, want *connection.Connection) {
	t.Helper()
	type field struct {
		name      string
		got, want any
	}
	for _, f := range []field{
		{"ID", got.ID, want.ID},
		{"ProjectID", got.ProjectID, want.ProjectID},
		{"UserID", got.UserID, want.UserID},
		{"IntegrationID", got.IntegrationID, want.IntegrationID},
		{"IsDefault", got.IsDefault, want.IsDefault},
		{"Status", got.Status, want.Status},
		{"LastError", got.LastError, want.LastError},
		{"Version", got.Version, want.Version},
	} {
		if f.got != f.want {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"LastRefreshAt", got.LastRefreshAt, want.LastRefreshAt},
		{"LastUsedAt", got.LastUsedAt, want.LastUsedAt},
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"UpdatedAt", got.UpdatedAt, want.UpdatedAt},
	} {
		if !f.got.Equal(f.want) {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if !reflect.DeepEqual(got.Credential, want.Credential) {
		// Credential's String hides values; compare the parts.
		t.Errorf("Credential differs:\n got access=%q refresh=%q type=%q client=%q/%q inputs=%q extra=%q\nwant access=%q refresh=%q type=%q client=%q/%q inputs=%q extra=%q",
			got.Credential.AccessToken, got.Credential.RefreshToken, got.Credential.TokenType,
			got.Credential.ClientID, got.Credential.ClientSecret, got.Credential.Inputs, got.Credential.Extra,
			want.Credential.AccessToken, want.Credential.RefreshToken, want.Credential.TokenType,
			want.Credential.ClientID, want.Credential.ClientSecret, want.Credential.Inputs, want.Credential.Extra)
	}
}
