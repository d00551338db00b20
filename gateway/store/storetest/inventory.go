package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
)

// inventoryFixture is a store holding connections of every Health, across
// two projects, three users and two integrations.
type inventoryFixture struct {
	s   store.Store
	now time.Time
	// by name: valid, expiredRenewable, expiredClientCreds,
	// expiredBare, refused, otherProject, otherUser, otherIntegration
	conns   map[string]*connection.Connection
	secrets []string // every secret value stored
}

func newInventoryFixture(t *testing.T, h *harness) *inventoryFixture {
	f := &inventoryFixture{s: h.fresh(t), now: time.Now(), conns: map[string]*connection.Connection{}}
	past := f.now.Add(-time.Hour).Truncate(time.Millisecond)
	add := func(name, project, user, integration string, edit func(c *connection.Connection)) {
		c := newConnection(project, user, integration)
		if edit != nil {
			edit(c)
		}
		create(t, f.s, c)
		f.conns[name] = c
		cr := c.Credential
		for _, v := range []string{cr.AccessToken, cr.RefreshToken, cr.ClientSecret, cr.Inputs["apiKey"]} {
			if v != "" {
				f.secrets = append(f.secrets, v)
			}
		}
	}
	add("valid", "p1", "u1", "github", nil)
	add("expiredRenewable", "p1", "u1", "github", func(c *connection.Connection) { c.ExpiresAt = past })
	add("expiredClientCreds", "p1", "u2", "github", func(c *connection.Connection) {
		c.ExpiresAt, c.Credential.RefreshToken = past, ""
	})
	add("expiredBare", "p1", "u2", "github", func(c *connection.Connection) {
		c.ExpiresAt, c.Credential.RefreshToken, c.Credential.ClientID, c.Credential.ClientSecret = past, "", "", ""
	})
	add("refused", "p1", "u1", "zendesk", func(c *connection.Connection) {
		c.Status, c.LastError = connection.StatusNeedsReconnect, "invalid_grant: token revoked"
	})
	add("noExpiry", "p1", "u3", "zendesk", func(c *connection.Connection) {
		c.ExpiresAt, c.Credential.RefreshToken, c.Credential.ClientSecret = time.Time{}, "", ""
	})
	add("otherProject", "p2", "u1", "github", nil)
	return f
}

func (f *inventoryFixture) list(t *testing.T, filter store.ConnectionFilter) []string {
	t.Helper()
	filter.Now = f.now
	page, err := f.s.ListConnections(t.Context(), filter)
	if err != nil {
		t.Fatalf("ListConnections(%+v): %v", filter, err)
	}
	if page.NextCursor != "" {
		t.Fatalf("ListConnections(%+v) has a next page; the fixture fits in one", filter)
	}
	var names []string
	for _, c := range page.Connections {
		names = append(names, f.name(c.ID))
	}
	return names
}

// inOrder sorts names as listings do: by creation time, then id.
func (f *inventoryFixture) inOrder(names []string) []string {
	names = slices.Clone(names)
	slices.SortFunc(names, func(a, b string) int {
		ca, cb := f.conns[a], f.conns[b]
		if c := ca.CreatedAt.Compare(cb.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(ca.ID, cb.ID)
	})
	return names
}

func (f *inventoryFixture) name(id string) string {
	for n, c := range f.conns {
		if c.ID == id {
			return n
		}
	}
	return "unknown " + id
}

func testInventoryFilters(t *testing.T, h *harness) {
	f := newInventoryFixture(t, h)
	all := []string{"valid", "expiredRenewable", "expiredClientCreds", "expiredBare", "refused", "noExpiry", "otherProject"}
	for _, tc := range []struct {
		filter store.ConnectionFilter
		want   []string
	}{
		{store.ConnectionFilter{}, all},
		{store.ConnectionFilter{ProjectID: "p2"}, []string{"otherProject"}},
		{store.ConnectionFilter{UserID: "u1"}, []string{"valid", "expiredRenewable", "refused", "otherProject"}},
		{store.ConnectionFilter{ProjectID: "p1", UserID: "u1"}, []string{"valid", "expiredRenewable", "refused"}},
		{store.ConnectionFilter{IntegrationID: "zendesk"}, []string{"refused", "noExpiry"}},
		{store.ConnectionFilter{ProjectID: "p1", UserID: "u2", IntegrationID: "github"}, []string{"expiredClientCreds", "expiredBare"}},
		{store.ConnectionFilter{Health: connection.HealthValid}, []string{"valid", "noExpiry", "otherProject"}},
		{store.ConnectionFilter{Health: connection.HealthExpiredRefreshable}, []string{"expiredRenewable", "expiredClientCreds"}},
		{store.ConnectionFilter{Health: connection.HealthNeedsReconnect}, []string{"expiredBare", "refused"}},
		{store.ConnectionFilter{Health: connection.HealthNeedsReconnect, IntegrationID: "github"}, []string{"expiredBare"}},
		{store.ConnectionFilter{ProjectID: "nobody"}, nil},
	} {
		if got := f.list(t, tc.filter); !slices.Equal(got, f.inOrder(tc.want)) {
			t.Errorf("ListConnections(%+v) = %v, want %v (in creation order)", tc.filter, got, tc.want)
		}
	}

	// The store's status filter and Go's computation agree on every row.
	page, err := f.s.ListConnections(t.Context(), store.ConnectionFilter{Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Connections {
		name := f.name(c.ID)
		stored := f.conns[name]
		wantHealth, wantWhy := stored.Health(f.now)
		if h, why := c.Health(f.now); h != wantHealth || why != wantWhy {
			t.Errorf("%s: listed Health = %s (%q), the connection's = %s (%q)", name, h, why, wantHealth, wantWhy)
		}
		if c.ProjectID != stored.ProjectID || c.UserID != stored.UserID || c.IntegrationID != stored.IntegrationID ||
			c.IsDefault != stored.IsDefault || c.Status != stored.Status || c.LastError != stored.LastError ||
			!c.ExpiresAt.Equal(stored.ExpiresAt) || !c.CreatedAt.Equal(stored.CreatedAt) || !c.UpdatedAt.Equal(stored.UpdatedAt) {
			t.Errorf("%s: listed %+v, stored %+v", name, c, stored)
		}
	}
	if _, why := f.conns["refused"].Health(f.now); why != "invalid_grant: token revoked" {
		t.Errorf("a refused connection's why = %q, want its last error", why)
	}
}

// testInventoryPagination walks every page while connections are being
// created: each connection that existed before is seen exactly once, in
// order, and none twice.
func testInventoryPagination(t *testing.T, h *harness) {
	s := h.fresh(t)
	var before []string
	for i := range 23 {
		before = append(before, create(t, s, newConnection("p1", fmt.Sprintf("u%d", i%4), "github")).ID)
	}
	seen := map[string]int{}
	var order []store.ConnectionInfo
	cursor, pages := "", 0
	for {
		page, err := s.ListConnections(t.Context(), store.ConnectionFilter{Cursor: cursor, Limit: 5})
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if len(page.Connections) > 5 {
			t.Fatalf("page %d has %d connections, limit 5", pages, len(page.Connections))
		}
		for _, c := range page.Connections {
			seen[c.ID]++
			order = append(order, c)
		}
		// Created between pages: at most once in the walk.
		create(t, s, newConnection("p1", "late", "github"))
		if page.NextCursor == "" {
			break
		}
		if pages > 20 {
			t.Fatal("the walk does not end")
		}
		cursor = page.NextCursor
	}
	for _, id := range before {
		if seen[id] != 1 {
			t.Errorf("connection %s seen %d times, want 1", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("connection %s seen %d times", id, n)
		}
	}
	for i := 1; i < len(order); i++ {
		a, b := order[i-1], order[i]
		if b.CreatedAt.Before(a.CreatedAt) || (b.CreatedAt.Equal(a.CreatedAt) && b.ID < a.ID) {
			t.Errorf("walk out of order at %d: %s %v then %s %v", i, a.ID, a.CreatedAt, b.ID, b.CreatedAt)
		}
	}

	// The default limit, and the last page's empty cursor.
	page, err := s.ListConnections(t.Context(), store.ConnectionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Connections) != min(len(seen)+1, store.DefaultPageLimit) {
		t.Errorf("default page has %d connections", len(page.Connections))
	}
}

func testInventoryRejects(t *testing.T, h *harness) {
	s := h.fresh(t)
	create(t, s, newConnection("p1", "u1", "github"))
	for _, f := range []store.ConnectionFilter{
		{Cursor: "not a cursor"},
		{Cursor: "MTIzNDU"}, // base64 of "12345": no id
		{Cursor: "MTIzL25vdC1hLXV1aWQ"},
	} {
		if _, err := s.ListConnections(t.Context(), f); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("ListConnections(%+v) = %v, want ErrBadCursor", f, err)
		}
	}
	for _, f := range []store.ConnectionFilter{{Limit: -1}, {Limit: store.MaxPageLimit + 1}, {Health: "broken"}} {
		if _, err := s.ListConnections(t.Context(), f); err == nil {
			t.Errorf("ListConnections(%+v) succeeded", f)
		}
	}
	if page, err := s.ListConnections(t.Context(), store.ConnectionFilter{Limit: store.MaxPageLimit}); err != nil || len(page.Connections) != 1 {
		t.Errorf("ListConnections(limit %d) = %d, %v", store.MaxPageLimit, len(page.Connections), err)
	}
}

// testInventoryNoSecrets: nothing a listing returns holds a credential's
// value, in any field.
func testInventoryNoSecrets(t *testing.T, h *harness) {
	f := newInventoryFixture(t, h)
	page, err := f.s.ListConnections(t.Context(), store.ConnectionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	printed := fmt.Sprintf("%+v %#v", page, page)
	for _, secret := range f.secrets {
		if strings.Contains(printed, secret) {
			t.Errorf("a listing holds the secret %q", secret)
		}
	}
	if _, ok := reflect.TypeFor[store.ConnectionInfo]().FieldByName("Credential"); ok {
		t.Error("ConnectionInfo has a Credential field")
	}
}

func testGetConnectionAnyUser(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := create(t, s, newConnection("p1", "u1", "github"))
	got, err := s.GetConnection(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameConnection(t, got, c)
	for _, id := range []string{"6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50", "not-a-uuid", ""} {
		if _, err := s.GetConnection(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetConnection(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func testCountConnections(t *testing.T, h *harness) {
	f := newInventoryFixture(t, h)
	counts, err := f.s.CountConnections(t.Context(), f.now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range counts {
		got[c.IntegrationID+"/"+string(c.Health)] = c.Count
	}
	want := map[string]int{
		"github/valid": 2, "github/expired_refreshable": 2, "github/needs_reconnect": 1,
		"zendesk/valid": 1, "zendesk/needs_reconnect": 1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CountConnections = %v, want %v", got, want)
	}
	// An hour on, every token that expires has expired.
	later, err := f.s.CountConnections(t.Context(), f.now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]int{}
	for _, c := range later {
		got[c.IntegrationID+"/"+string(c.Health)] = c.Count
	}
	want = map[string]int{"github/expired_refreshable": 4, "github/needs_reconnect": 1, "zendesk/valid": 1, "zendesk/needs_reconnect": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CountConnections two hours on = %v, want %v", got, want)
	}
}

// testMarkUsed: last use is recorded, only forwards, without a new
// Version (a refresh in flight must not conflict with it).
func testMarkUsed(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := create(t, s, newConnection("p1", "u1", "github"))
	if !c.LastUsedAt.IsZero() {
		t.Errorf("a new connection's LastUsedAt = %v", c.LastUsedAt)
	}
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	if err := s.MarkUsed(t.Context(), map[string]time.Time{c.ID: at, "6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50": at, "junk": at}); err != nil {
		t.Fatal(err)
	}
	got := get(t, s, c)
	if !got.LastUsedAt.Equal(at) || got.Version != c.Version || !got.UpdatedAt.Equal(c.UpdatedAt) {
		t.Errorf("after MarkUsed: LastUsedAt %v (want %v), Version %d (want %d), UpdatedAt %v (want %v)",
			got.LastUsedAt, at, got.Version, c.Version, got.UpdatedAt, c.UpdatedAt)
	}
	if err := s.MarkUsed(t.Context(), map[string]time.Time{c.ID: at.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, c); !got.LastUsedAt.Equal(at) {
		t.Errorf("an earlier use moved LastUsedAt back to %v", got.LastUsedAt)
	}
	// Update keeps it; the listing shows it.
	got.LastError = "x"
	if err := s.Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListConnections(t.Context(), store.ConnectionFilter{})
	if err != nil || len(page.Connections) != 1 || !page.Connections[0].LastUsedAt.Equal(at) {
		t.Errorf("listing after Update: %+v, %v; want LastUsedAt %v", page, err, at)
	}
}

// testLastRefreshAndRenewable: Update writes LastRefreshAt, and a
// credential that loses its refresh token stops being renewable.
func testLastRefreshAndRenewable(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := newConnection("p1", "u1", "github")
	create(t, s, c)
	refreshed := time.Now().Truncate(time.Millisecond)
	c.LastRefreshAt = refreshed
	c.ExpiresAt = time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	if err := s.Update(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, c); !got.LastRefreshAt.Equal(refreshed) {
		t.Errorf("LastRefreshAt = %v, want %v", got.LastRefreshAt, refreshed)
	}
	health := func() connection.Health {
		page, err := s.ListConnections(t.Context(), store.ConnectionFilter{})
		if err != nil || len(page.Connections) != 1 {
			t.Fatalf("ListConnections = %+v, %v", page, err)
		}
		h, _ := page.Connections[0].Health(time.Now())
		return h
	}
	if h := health(); h != connection.HealthExpiredRefreshable {
		t.Errorf("expired with a refresh token: %s", h)
	}
	c.Credential.RefreshToken, c.Credential.ClientSecret = "", ""
	if err := s.Update(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if h := health(); h != connection.HealthNeedsReconnect {
		t.Errorf("expired without a refresh token: %s", h)
	}
}

// testRecordCheck: a health check's time, last success and error are
// recorded without a new Version, kept by Update, shown by the listing; an
// unknown connection is ErrNotFound.
func testRecordCheck(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := t.Context()
	c := create(t, s, newConnection("p1", "u1", "github"))
	if !c.LastCheckedAt.IsZero() || c.CheckFailed() {
		t.Errorf("a new connection was checked: %v %q", c.LastCheckedAt, c.CheckError)
	}
	ok := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if err := s.RecordCheck(ctx, c.ID, ok, ""); err != nil {
		t.Fatal(err)
	}
	failed := ok.Add(30 * time.Minute)
	if err := s.RecordCheck(ctx, c.ID, failed, "GET /me answered 401"); err != nil {
		t.Fatal(err)
	}
	got := get(t, s, c)
	if !got.LastCheckedAt.Equal(failed) || !got.LastCheckOKAt.Equal(ok) || got.CheckError != "GET /me answered 401" ||
		!got.CheckFailed() || got.Version != c.Version || !got.UpdatedAt.Equal(c.UpdatedAt) {
		t.Errorf("after two checks: checked %v, ok %v, error %q, version %d (want %d)",
			got.LastCheckedAt, got.LastCheckOKAt, got.CheckError, got.Version, c.Version)
	}
	got.LastError = "x"
	if err := s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListConnections(ctx, store.ConnectionFilter{})
	if err != nil || len(page.Connections) != 1 || !page.Connections[0].LastCheckedAt.Equal(failed) ||
		!page.Connections[0].LastCheckOKAt.Equal(ok) || page.Connections[0].CheckError != "GET /me answered 401" {
		t.Errorf("listing after Update: %+v, %v", page, err)
	}
	if err := s.RecordCheck(ctx, c.ID, failed.Add(time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, c); got.CheckFailed() || !got.LastCheckOKAt.Equal(failed.Add(time.Minute)) {
		t.Errorf("after a passed check: ok %v, error %q", got.LastCheckOKAt, got.CheckError)
	}
	if err := s.RecordCheck(ctx, "6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50", ok, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordCheck of an unknown connection: %v, want ErrNotFound", err)
	}
}
