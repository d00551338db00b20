package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
)

func testCreateAssignsFields(t *testing.T, h *harness) {
	s := h.fresh(t)
	before := time.Now().Add(-time.Second)
	c := newConnection("p1", "u1", "github")
	c.Status = ""
	create(t, s, c)
	if !uuidV4.MatchString(c.ID) {
		t.Errorf("ID = %q, want a lowercase UUID version 4", c.ID)
	}
	if c.Version != 1 {
		t.Errorf("Version = %d, want 1", c.Version)
	}
	if c.Status != connection.StatusValid {
		t.Errorf("Status = %q, want %q (the default)", c.Status, connection.StatusValid)
	}
	if !c.IsDefault {
		t.Error("the user's first connection to an integration is not its default")
	}
	if c.CreatedAt.Before(before) || c.CreatedAt.After(time.Now().Add(time.Second)) || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Errorf("CreatedAt = %v, UpdatedAt = %v, want both now", c.CreatedAt, c.UpdatedAt)
	}
	if c.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt is in %v, want UTC", c.CreatedAt.Location())
	}

	second := create(t, s, newConnection("p1", "u1", "github"))
	if second.IsDefault {
		t.Error("a second connection to the same integration became the default")
	}
	if second.ID == c.ID {
		t.Error("two connections got the same ID")
	}
	other := create(t, s, newConnection("p1", "u1", "zendesk"))
	if !other.IsDefault {
		t.Error("the first connection to another integration is not its default")
	}

	const given = "6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50"
	withID := newConnection("p1", "u1", "github")
	withID.ID = given
	create(t, s, withID)
	if withID.ID != given {
		t.Errorf("Create replaced the given ID %s by %s", given, withID.ID)
	}
}

func testCreateRejectsInvalid(t *testing.T, h *harness) {
	s := h.fresh(t)
	for name, edit := range map[string]func(c *connection.Connection){
		"no project":     func(c *connection.Connection) { c.ProjectID = "" },
		"no user":        func(c *connection.Connection) { c.UserID = "" },
		"no integration": func(c *connection.Connection) { c.IntegrationID = "" },
		"UUID v7 id":     func(c *connection.Connection) { c.ID = "01890a5d-ac96-774b-bcce-b302099a8057" },
		"uppercase id":   func(c *connection.Connection) { c.ID = "6F1C2A4E-8B3D-4C5E-9F7A-0B1C2D3E4F50" },
		"unknown status": func(c *connection.Connection) { c.Status = "broken" },
	} {
		c := newConnection("p1", "u1", "github")
		edit(c)
		if err := s.Create(t.Context(), c); err == nil {
			t.Errorf("%s: Create succeeded, want an error", name)
		}
	}
	if cs, err := s.List(t.Context(), "p1", "u1"); err != nil || len(cs) != 0 {
		t.Errorf("after rejected creates, List = %d connections, %v; want none", len(cs), err)
	}
}

func testCreateDuplicateID(t *testing.T, h *harness) {
	s := h.fresh(t)
	a := create(t, s, newConnection("p1", "u1", "github"))
	b := newConnection("p1", "u1", "github")
	b.ID = a.ID
	if err := s.Create(t.Context(), b); err == nil {
		t.Fatal("Create with an existing ID succeeded")
	}
	sameConnection(t, get(t, s, a), a)
}

func testCreateIsDefaultTakesOver(t *testing.T, h *harness) {
	s := h.fresh(t)
	a := create(t, s, newConnection("p1", "u1", "github"))
	b := newConnection("p1", "u1", "github")
	b.IsDefault = true
	create(t, s, b)
	if !b.IsDefault {
		t.Fatal("Create with IsDefault set stored a non-default")
	}
	if got := get(t, s, a); got.IsDefault {
		t.Error("the previous default is still the default")
	}
	d, err := s.Default(t.Context(), "p1", "u1", "github")
	if err != nil || d.ID != b.ID {
		t.Errorf("Default = %v, %v; want %s", d, err, b.ID)
	}
}

func testConcurrentCreateOneDefault(t *testing.T, h *harness) {
	s := h.fresh(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- s.Create(t.Context(), newConnection("p1", "u1", "github")) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	cs, err := s.List(t.Context(), "p1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	defaults := 0
	for _, c := range cs {
		if c.IsDefault {
			defaults++
		}
	}
	if len(cs) != 20 || defaults != 1 {
		t.Errorf("%d connections with %d defaults, want 20 with 1", len(cs), defaults)
	}
}

func testRoundTrip(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := newConnection("p1", "u1", "github")
	c.Status = connection.StatusNeedsReconnect
	c.LastError = `invalid_grant: "refresh token revoked"`
	create(t, s, c)
	sameConnection(t, get(t, s, c), c)

	bare := &connection.Connection{ProjectID: "p1", UserID: "u1", IntegrationID: "apikey"}
	create(t, s, bare)
	got := get(t, s, bare)
	sameConnection(t, got, bare)
	if !got.ExpiresAt.IsZero() {
		t.Errorf("ExpiresAt = %v, want zero (unknown)", got.ExpiresAt)
	}
}

func testDefault(t *testing.T, h *harness) {
	s := h.fresh(t)
	if _, err := s.Default(t.Context(), "p1", "u1", "github"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Default with no connections: %v, want ErrNotFound", err)
	}
	a := create(t, s, newConnection("p1", "u1", "github"))
	create(t, s, newConnection("p1", "u1", "github"))
	d, err := s.Default(t.Context(), "p1", "u1", "github")
	if err != nil {
		t.Fatal(err)
	}
	sameConnection(t, d, a)
}

func testListOldestFirst(t *testing.T, h *harness) {
	s := h.fresh(t)
	if cs, err := s.List(t.Context(), "p1", "u1"); err != nil || len(cs) != 0 {
		t.Fatalf("List of a user without connections = %d, %v; want none", len(cs), err)
	}
	var want []*connection.Connection
	for _, integration := range []string{"github", "zendesk", "github", "asana", "zendesk"} {
		want = append(want, create(t, s, newConnection("p1", "u1", integration)))
	}
	create(t, s, newConnection("p1", "u2", "github"))
	create(t, s, newConnection("p2", "u1", "github"))
	got, err := s.List(t.Context(), "p1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("List returned %d connections, want %d", len(got), len(want))
	}
	for i := range want {
		sameConnection(t, got[i], want[i])
	}
}

// testCount: Count sees a user's connections per integration and in all,
// and no one else's; deleting one counts down.
func testCount(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := t.Context()
	var first *connection.Connection
	for i, integration := range []string{"github", "zendesk", "github", "github"} {
		c := create(t, s, newConnection("p1", "u1", integration))
		if i == 0 {
			first = c
		}
	}
	create(t, s, newConnection("p1", "u2", "github"))
	create(t, s, newConnection("p2", "u1", "github"))
	for _, tc := range []struct {
		project, user, integration string
		want                       int
	}{
		{"p1", "u1", "github", 3}, {"p1", "u1", "zendesk", 1}, {"p1", "u1", "asana", 0}, {"p1", "u1", "", 4},
		{"p1", "u2", "github", 1}, {"p2", "u1", "", 1}, {"p1", "nobody", "", 0},
	} {
		if n, err := s.Count(ctx, tc.project, tc.user, tc.integration); err != nil || n != tc.want {
			t.Errorf("Count(%q, %q, %q) = %d, %v; want %d", tc.project, tc.user, tc.integration, n, err, tc.want)
		}
	}
	if err := s.Delete(ctx, "p1", "u1", first.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx, "p1", "u1", "github"); err != nil || n != 2 {
		t.Errorf("after a delete, Count = %d, %v; want 2", n, err)
	}
}

// testIsolation: a user reaches only their own connections in their own
// project; anything else is ErrNotFound and changes nothing.
func testIsolation(t *testing.T, h *harness) {
	s := h.fresh(t)
	mine := create(t, s, newConnection("p1", "alice", "github"))
	ctx := t.Context()
	for _, who := range []struct{ project, user string }{
		{"p1", "bob"}, {"p2", "alice"}, {"p2", "bob"}, {"", ""},
	} {
		if _, err := s.Get(ctx, who.project, who.user, mine.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get as %s/%s: %v, want ErrNotFound", who.project, who.user, err)
		}
		if _, err := s.Default(ctx, who.project, who.user, "github"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Default as %s/%s: %v, want ErrNotFound", who.project, who.user, err)
		}
		if cs, err := s.List(ctx, who.project, who.user); err != nil || len(cs) != 0 {
			t.Errorf("List as %s/%s = %d connections, %v; want none", who.project, who.user, len(cs), err)
		}
		if err := s.SetDefault(ctx, who.project, who.user, mine.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetDefault as %s/%s: %v, want ErrNotFound", who.project, who.user, err)
		}
		if err := s.Delete(ctx, who.project, who.user, mine.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete as %s/%s: %v, want ErrNotFound", who.project, who.user, err)
		}
		forged := *get(t, s, mine)
		forged.ProjectID, forged.UserID = who.project, who.user
		forged.Credential.AccessToken = "forged"
		if err := s.Update(ctx, &forged); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Update as %s/%s: %v, want ErrNotFound", who.project, who.user, err)
		}
	}
	sameConnection(t, get(t, s, mine), mine)
}

func testUpdate(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := create(t, s, newConnection("p1", "u1", "github"))
	time.Sleep(2 * time.Millisecond) // so that UpdatedAt visibly moves
	c.Credential.AccessToken = "new access token"
	c.Credential.RefreshToken = "rotated refresh token"
	c.Credential.Extra = map[string]string{"counter": "1"}
	c.ExpiresAt = time.Time{}
	c.Status = connection.StatusNeedsReconnect
	c.LastError = "invalid_grant"
	c.IsDefault = false // not written by Update
	if err := s.Update(t.Context(), c); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if c.Version != 2 {
		t.Errorf("Version after Update = %d, want 2", c.Version)
	}
	if !c.UpdatedAt.After(c.CreatedAt) {
		t.Errorf("UpdatedAt %v is not after CreatedAt %v", c.UpdatedAt, c.CreatedAt)
	}
	got := get(t, s, c)
	if !got.IsDefault {
		t.Error("Update changed IsDefault")
	}
	c.IsDefault = true
	sameConnection(t, got, c)
}

func testUpdateConflict(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := create(t, s, newConnection("p1", "u1", "github"))
	first, second := get(t, s, c), get(t, s, c)
	first.Credential.AccessToken = "first"
	if err := s.Update(t.Context(), first); err != nil {
		t.Fatalf("first Update: %v", err)
	}
	second.Credential.AccessToken = "second"
	err := s.Update(t.Context(), second)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Update of a stale version: %v, want ErrConflict", err)
	}
	if second.Version != 1 {
		t.Errorf("a failed Update changed Version to %d", second.Version)
	}
	if got := get(t, s, c); got.Credential.AccessToken != "first" || got.Version != 2 {
		t.Errorf("after the conflict the store holds version %d (access token changed: %v), want version 2 from the first Update",
			got.Version, got.Credential.AccessToken != "first")
	}
}

func testUpdateNotFound(t *testing.T, h *harness) {
	s := h.fresh(t)
	c := newConnection("p1", "u1", "github")
	c.ID, c.Version = "6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50", 1
	if err := s.Update(t.Context(), c); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update of a missing connection: %v, want ErrNotFound", err)
	}
	existing := create(t, s, newConnection("p1", "u1", "github"))
	moved := *existing
	moved.IntegrationID = "zendesk"
	if err := s.Update(t.Context(), &moved); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update with another IntegrationID: %v, want ErrNotFound", err)
	}
}

func testSetDefault(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := t.Context()
	a := create(t, s, newConnection("p1", "u1", "github"))
	b := create(t, s, newConnection("p1", "u1", "github"))
	z := create(t, s, newConnection("p1", "u1", "zendesk"))
	if err := s.SetDefault(ctx, "p1", "u1", b.ID); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Default(ctx, "p1", "u1", "github"); err != nil || d.ID != b.ID {
		t.Fatalf("Default after SetDefault = %v, %v; want %s", d, err, b.ID)
	}
	if get(t, s, a).IsDefault {
		t.Error("the previous default is still marked default")
	}
	if !get(t, s, z).IsDefault {
		t.Error("SetDefault on github changed the zendesk default")
	}
	if err := s.SetDefault(ctx, "p1", "u1", b.ID); err != nil {
		t.Errorf("SetDefault of the current default: %v", err)
	}
	// The default flag is not guarded by Version: a writer holding a
	// version read before SetDefault still succeeds.
	a.Credential.AccessToken = "refreshed"
	if err := s.Update(ctx, a); err != nil {
		t.Errorf("Update after another connection became default: %v", err)
	}
	if err := s.SetDefault(ctx, "p1", "u1", "6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDefault of a missing connection: %v, want ErrNotFound", err)
	}
}

func testDeletePromotesOldest(t *testing.T, h *harness) {
	s := h.fresh(t)
	ctx := t.Context()
	a := create(t, s, newConnection("p1", "u1", "github"))
	b := create(t, s, newConnection("p1", "u1", "github"))
	c := create(t, s, newConnection("p1", "u1", "github"))
	other := create(t, s, newConnection("p1", "u2", "github"))

	if err := s.Delete(ctx, "p1", "u1", a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "p1", "u1", a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if d, err := s.Default(ctx, "p1", "u1", "github"); err != nil || d.ID != b.ID {
		t.Fatalf("after deleting the default, Default = %v, %v; want the next oldest %s", d, err, b.ID)
	}
	if err := s.Delete(ctx, "p1", "u1", c.ID); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Default(ctx, "p1", "u1", "github"); err != nil || d.ID != b.ID {
		t.Fatalf("deleting a non-default changed the default: %v, %v", d, err)
	}
	if err := s.Delete(ctx, "p1", "u1", b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Default(ctx, "p1", "u1", "github"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Default with no connections left: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "p1", "u1", b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if d, err := s.Default(ctx, "p1", "u2", "github"); err != nil || d.ID != other.ID {
		t.Errorf("another user's default changed: %v, %v", d, err)
	}
}
