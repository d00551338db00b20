package integration

import (
	"net/url"

	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/manifest"
)

// Keys of the values the user types for client credentials integrations.
const (
	FieldClientID     = "client_id"
	FieldClientSecret = "client_secret"
)

// IconPath is the gateway path of an integration's icon. Every
// integration has one: without an icon in its manifest, the gateway serves
// its initial on its accent colour (InitialIcon), so apps and the SDK never
// show a broken image or fetch a placeholder from elsewhere.
func IconPath(in *manifest.Integration) string {
	return "/v1/integrations/" + url.PathEscape(in.ID) + "/icon.svg"
}

// iconURL is IconPath made absolute with the gateway's public URL.
func iconURL(publicURL string, in *manifest.Integration) string {
	return publicURL + IconPath(in)
}

// Public is what apps may know of an integration (GET /v1/integrations):
// presentation and the fields a user will be asked for. Never secrets,
// URLs with credentials, or defaults of secret inputs.
type Public struct {
	ID          string        `json:"id"`
	SDKName     string        `json:"sdkName"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	AccentColor string        `json:"accentColor"`
	AuthType    string        `json:"authType"`
	Icon        string        `json:"icon"` // always set: the manifest's icon or a generated initial
	Inputs      []PublicInput `json:"inputs"`
	// Available is false when the integration cannot be connected on this
	// gateway as loaded (an OAuth client id or secret is not set, which
	// only dev mode tolerates); UnavailableReason then says, for the
	// operator, which setting is missing.
	Available         bool   `json:"available"`
	UnavailableReason string `json:"unavailableReason,omitempty"`
}

// PublicInput is one input of Public.
type PublicInput struct {
	Key         string   `json:"key"`
	Label       string   `json:"label"`
	Help        string   `json:"help,omitempty"`
	Placeholder string   `json:"placeholder,omitempty"`
	Secret      bool     `json:"secret"`
	Required    bool     `json:"required"`
	Enum        []string `json:"enum,omitempty"`
}

// PublicView projects an integration for apps.
func PublicView(publicURL string, in *manifest.Integration) Public {
	p := Public{ID: in.ID, SDKName: in.SDKName(), Name: in.Name, Description: in.Description,
		AccentColor: in.AccentColor, AuthType: string(in.Auth.Type), Icon: iconURL(publicURL, in), Inputs: []PublicInput{},
		UnavailableReason: UnavailableReason(in)}
	p.Available = p.UnavailableReason == ""
	for _, i := range in.Auth.Inputs {
		p.Inputs = append(p.Inputs, PublicInput{Key: i.Key, Label: i.Label, Help: i.Help, Placeholder: i.Placeholder, Secret: i.Secret, Required: i.Required, Enum: i.Enum})
	}
	return p
}

// PortalView projects an integration for the Connect Portal's pages
// (without a manifest icon they draw the initial themselves).
func PortalView(in *manifest.Integration) portal.Integration {
	v := portal.Integration{ID: in.ID, Name: in.Name, Description: in.Description, AccentColor: in.AccentColor,
		AuthType: string(in.Auth.Type), Unavailable: UnavailableReason(in)}
	if in.Icon != nil {
		v.IconURL = IconPath(in)
	}
	return v
}

// UnknownPortalView is what portal pages show when no integration is known
// (an expired link, a state from nowhere).
func UnknownPortalView() portal.Integration {
	return portal.Integration{Name: "Plugboard", AccentColor: manifest.DefaultAccentColor}
}

// FormFields lists what the user fills in to connect an integration: its
// inputs, and a client id and secret for client credentials.
func FormFields(in *manifest.Integration) []portal.Field {
	var fields []portal.Field
	for _, i := range in.Auth.Inputs {
		fields = append(fields, portal.Field{Key: i.Key, Label: i.Label, Help: i.Help, Placeholder: i.Placeholder, Secret: i.Secret, Required: i.Required, Enum: i.Enum, Value: i.Default})
	}
	if cc := in.Auth.ClientCredentials; cc != nil {
		fields = append(fields,
			portal.Field{Key: FieldClientID, Label: cc.ClientIDLabel, Required: true},
			portal.Field{Key: FieldClientSecret, Label: cc.ClientSecretLabel, Required: true, Secret: true})
	}
	return fields
}

// SDKAuthenticationType is the SDK's name for how an integration connects.
func SDKAuthenticationType(in *manifest.Integration) string {
	if in.Auth.Type == manifest.AuthOAuth2 {
		return "oauth"
	}
	return "apiKey"
}

// SDKView projects an integration as the SDK's /sdk/integrations lists it
// (the shapes it reads: shared/paragon-sdk-protocol.md).
func SDKView(publicURL, projectID string, in *manifest.Integration) map[string]any {
	inputs := []any{}
	for _, f := range FormFields(in) {
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
	reason := UnavailableReason(in)
	return map[string]any{
		// isActive stays true for an unavailable integration: the SDK
		// drops inactive ones from its metadata and refuses connect() for
		// them with a message about Paragon projects. The portal shows why
		// instead (available, unavailableReason).
		"id": UUID(projectID, in.ID), "type": "custom", "isActive": true, "available": reason == "", "unavailableReason": reason, "name": in.Name, "brandColor": in.AccentColor,
		"customIntegration": map[string]any{"name": in.Name, "slug": in.SDKName(), "icon": iconURL(publicURL, in), "inputFields": inputs},
		"configs": []any{map[string]any{"values": map[string]any{
			"description": in.Description, "overview": in.Description,
			"sharedMeta": map[string]any{"inputs": []any{}}, "workflowMeta": map[string]any{},
		}}},
		"workflows": []any{},
		// false: installIntegration() always opens the popup, where the
		// gateway shows whatever form the integration needs (build-oauth).
		"needPreOauthInputs": false,
		"authenticationType": SDKAuthenticationType(in),
		"sdkIntegrationConfig": map[string]any{"accountTypes": []any{}, "oauthInputs": inputs, "postOauthInputs": []any{},
			"authConfigInputs": []any{}, "dataSources": map[string]any{}},
	}
}
