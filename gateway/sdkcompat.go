package gateway

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/manifest"
)

// The management API the @useparagon/connect SDK speaks (see
// shared/paragon-sdk-protocol.md). Shapes follow what the SDK reads.

// integrationUUID is the stable id the SDK knows an integration by: a
// name-based (version 5) UUID of the project and the manifest id. The SDK
// rejects version 7, and ids must not change across restarts or replicas.
func integrationUUID(projectID, integrationID string) string {
	return uuid5("plugboard:integration:" + projectID + ":" + integrationID)
}

// configurationUUID is the id of a credential's one (default) configuration.
func configurationUUID(credentialID string) string {
	return uuid5("plugboard:configuration:" + credentialID)
}

func uuid5(name string) string {
	// RFC 4122 §4.3 with SHA-1 over a fixed namespace and the name.
	ns := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte(name))
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// resolveIntegration finds an integration by manifest id, custom.<id>,
// custom/<id>, or the UUID /sdk/integrations gave out.
func (s *Server) resolveIntegration(projectID, ref string) (*manifest.Integration, bool) {
	cat := s.reloader.Catalog()
	ref = strings.TrimPrefix(ref, "custom/")
	if in, ok := lookup(cat, ref); ok {
		return in, true
	}
	for _, in := range cat.Integrations() {
		if integrationUUID(projectID, in.ID) == ref {
			return in, true
		}
	}
	return nil, false
}

type sdkConfiguration struct {
	ID                  string         `json:"id"`
	ConnectCredentialID string         `json:"connectCredentialId"`
	IsDefault           bool           `json:"isDefault"`
	WorkflowSettings    map[string]any `json:"workflowSettings"`
	SharedSettings      map[string]any `json:"sharedSettings"`
	ConfigMeta          map[string]any `json:"configMeta"`
}

type sdkCredential struct {
	ID             string             `json:"id"`
	IntegrationID  string             `json:"integrationId"`
	ProjectID      string             `json:"projectId"`
	Status         string             `json:"status"`
	ProviderID     string             `json:"providerId"`
	ProviderData   map[string]any     `json:"providerData"`
	IsDefault      bool               `json:"isDefault"`
	DateCreated    string             `json:"dateCreated"`
	DateUpdated    string             `json:"dateUpdated"`
	Configurations []sdkConfiguration `json:"configurations"`
}

func sdkStatus(c *connection.Connection) string {
	if c.Status == connection.StatusNeedsReconnect {
		return "INVALID"
	}
	return "VALID"
}

func (s *Server) sdkCredentialOf(c *connection.Connection) sdkCredential {
	return sdkCredential{
		ID: c.ID, IntegrationID: integrationUUID(c.ProjectID, c.IntegrationID), ProjectID: c.ProjectID,
		Status: sdkStatus(c), ProviderID: c.UserID, ProviderData: map[string]any{}, IsDefault: c.IsDefault,
		DateCreated: c.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), DateUpdated: c.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		Configurations: []sdkConfiguration{{ID: configurationUUID(c.ID), ConnectCredentialID: c.ID, IsDefault: true,
			WorkflowSettings: map[string]any{}, SharedSettings: map[string]any{}, ConfigMeta: map[string]any{}}},
	}
}

// sdkMe is GET /projects/{pid}/sdk/me: the user, the project, and every
// integration of the catalog with the user's credentials.
func (s *Server) sdkMe(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	conns, err := s.store.List(r.Context(), u.project.ID, u.id)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, CodeStoreUnavailable, "could not read the user's connections; try again")
		return
	}
	byIntegration := map[string][]*connection.Connection{}
	for _, c := range conns {
		byIntegration[c.IntegrationID] = append(byIntegration[c.IntegrationID], c)
	}
	integrations := map[string]any{}
	for _, in := range s.reloader.Catalog().Integrations() {
		all := []sdkCredential{}
		entry := map[string]any{"enabled": false}
		for _, c := range byIntegration[in.ID] {
			all = append(all, s.sdkCredentialOf(c))
			if c.IsDefault {
				entry["enabled"] = true
				entry["credentialId"] = c.ID
				entry["credentialStatus"] = sdkStatus(c)
				entry["providerId"] = u.id
				entry["providerData"] = map[string]any{}
				entry["credentialConfigId"] = configurationUUID(c.ID)
				entry["sharedSettings"] = map[string]any{}
				entry["workflowSettings"] = map[string]any{}
				entry["configuredWorkflows"] = map[string]any{}
			}
		}
		entry["allCredentials"] = all
		integrations[in.SDKName()] = entry
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":           u.id,
		"meta":         map[string]any{},
		"resources":    []any{},
		"project":      map[string]any{"id": u.project.ID, "accessibleFeatures": []string{"headless-cp", "user-metadata"}},
		"integrations": integrations,
	})
}

// sdkSetMeta is PATCH /projects/{pid}/sdk/me. Plugboard keeps no user
// metadata; the call is accepted so the SDK's authenticate() with metadata works.
func (s *Server) sdkSetMeta(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authenticate(w, r, r.PathValue("pid")); !ok {
		return
	}
	var body struct {
		Meta map[string]any `json:"meta"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, `body must be JSON {"meta": {…}}`)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": body.Meta})
}

// sdkIntegrations is GET /projects/{pid}/sdk/integrations.
func (s *Server) sdkIntegrations(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	list := []any{}
	for _, in := range s.reloader.Catalog().Integrations() {
		list = append(list, s.sdkIntegrationOf(u.project.ID, in))
	}
	writeJSON(w, http.StatusOK, list)
}

func sdkAuthenticationType(in *manifest.Integration) string {
	if in.Auth.Type == manifest.AuthOAuth2 {
		return "oauth"
	}
	return "apiKey"
}

func (s *Server) sdkIntegrationOf(projectID string, in *manifest.Integration) map[string]any {
	icon := ""
	if in.Icon != nil {
		icon = s.cfg.PublicURL + "/v1/integrations/" + in.ID + "/icon.svg"
	}
	inputs := []any{}
	for _, f := range formFields(in) {
		field := map[string]any{"id": f.Key, "title": f.Label, "tooltip": f.Help, "placeholder": f.Placeholder, "required": f.Required,
			"type": "text", "defaultValue": f.Value}
		if f.Secret {
			field["type"] = "password"
			field["defaultValue"] = ""
		}
		if len(f.Enum) > 0 {
			field["options"] = f.Enum
		}
		inputs = append(inputs, field)
	}
	return map[string]any{
		"id": integrationUUID(projectID, in.ID), "type": "custom", "isActive": true, "name": in.Name, "brandColor": in.AccentColor,
		"customIntegration": map[string]any{"name": in.Name, "slug": in.SDKName(), "icon": icon, "inputFields": inputs},
		"configs": []any{map[string]any{"values": map[string]any{
			"description": in.Description, "overview": in.Description,
			"sharedMeta": map[string]any{"inputs": []any{}}, "workflowMeta": map[string]any{},
		}}},
		"workflows": []any{},
		// false: installIntegration() always opens the popup, where the
		// gateway shows whatever form the integration needs (see sdkBuildOAuth).
		"needPreOauthInputs": false,
		"authenticationType": sdkAuthenticationType(in),
		"sdkIntegrationConfig": map[string]any{"accountTypes": []any{}, "oauthInputs": inputs, "postOauthInputs": []any{},
			"authConfigInputs": []any{}, "dataSources": map[string]any{}},
	}
}

// connectUI is the Connect Portal page the SDK's connect() loads in its iframe.
func (s *Server) connectUI(w http.ResponseWriter, r *http.Request) {
	portal.RenderUI(w, s.cfg.AllowedOrigins, s.portalOptions())
}

// sdkUninstall is DELETE /projects/{pid}/sdk/integrations/{integrationId}:
// the credential named by X-Paragon-Credential, or else every credential of
// the user for the integration.
func (s *Server) sdkUninstall(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	in, ok := s.resolveIntegration(u.project.ID, r.PathValue("integrationId"))
	if !ok {
		writeError(w, http.StatusNotFound, CodeIntegrationMissing, "no integration "+quoteID(r.PathValue("integrationId")))
		return
	}
	conns, err := s.store.List(r.Context(), u.project.ID, u.id)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, CodeStoreUnavailable, "could not read the user's connections; try again")
		return
	}
	only := r.Header.Get("X-Paragon-Credential")
	for _, c := range conns {
		if c.IntegrationID != in.ID || (only != "" && c.ID != only) {
			continue
		}
		s.disconnect(r.Context(), in, c)
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// disconnect revokes (if the manifest declares it; in may be nil when the
// integration is no longer loaded) and deletes one connection.
func (s *Server) disconnect(ctx context.Context, in *manifest.Integration, c *connection.Connection) error {
	if in != nil {
		if err := s.oauth.Revoke(ctx, in, c.Credential); err != nil {
			s.log.Info("revocation at the provider failed; deleting anyway", "integration", in.ID, "error", err.Error())
		}
	}
	err := s.store.Delete(ctx, c.ProjectID, c.UserID, c.ID)
	s.creds.Forget(c.ProjectID, c.UserID, c.IntegrationID)
	return err
}
