package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/manifest"
	"gopkg.in/yaml.v3"
)

// The import tests run the binary on public OpenAPI documents kept under
// testdata/openapi (with their licences) and on a document of the shapes
// it has to decide about, then load what it wrote with the manifest
// loader serve uses.

func specPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "openapi", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// importDoc imports a document into a fresh folder and returns what the
// user saw and the loaded integration.
func importDoc(t *testing.T, doc string, args ...string) (result, *manifest.Integration, string) {
	t.Helper()
	dir := t.TempDir()
	r := runIn(t, dir, nil, append(append([]string{"import", "openapi"}, args...), doc)...)
	wantCode(t, r, 0)
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != 1 {
		t.Fatalf("want one manifest written, got %v\n%s", files, r)
	}
	// What import writes passes validate --strict (unset secrets are the
	// environment's, as validate says).
	v := runIn(t, dir, nil, "validate", "--strict", filepath.Base(files[0]))
	wantCode(t, v, 0)
	return r, loadWritten(t, files[0]), files[0]
}

func actionNames(in *manifest.Integration) []string {
	var names []string
	for _, a := range in.Actions {
		names = append(names, a.Name)
	}
	return names
}

func findAction(t *testing.T, in *manifest.Integration, name string) *manifest.Action {
	t.Helper()
	for _, a := range in.Actions {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no action %s in %v", name, actionNames(in))
	return nil
}

// render checks parameters against an action's schema and renders the
// request the gateway would send.
func render(t *testing.T, a *manifest.Action, paramsJSON string) *manifest.ActionRequest {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(paramsJSON))
	dec.UseNumber()
	var params map[string]any
	if err := dec.Decode(&params); err != nil {
		t.Fatal(err)
	}
	if errs := a.Check(params); errs != nil {
		t.Fatalf("%s refuses %s: %v", a.Name, paramsJSON, errs)
	}
	req, err := a.Render(params)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func wantStderr(t *testing.T, r result, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr should say %q, got %s", w, r)
		}
	}
}

// TestImportXero: Xero's identity API, OAuth 2 authorization code, with an
// HTTP Basic scheme beside it that no operation uses.
func TestImportXero(t *testing.T) {
	t.Parallel()
	doc := specPath(t, "xero/xero-identity.yaml")
	r, in, _ := importDoc(t, doc, "--id", "xero")
	if in.Auth.Type != manifest.AuthOAuth2 {
		t.Fatalf("auth %s", in.Auth.Type)
	}
	o := in.Auth.OAuth2
	if o.AuthorizationURL.Source() != "https://login.xero.com/identity/connect/authorize" || o.TokenURL.Source() != "https://identity.xero.com/connect/token" {
		t.Errorf("URLs %s %s", o.AuthorizationURL.Source(), o.TokenURL.Source())
	}
	if o.ClientSecret == nil || o.ClientID.Secret == nil {
		t.Error("client id and secret should be references")
	}
	if in.API.BaseURL.Source() != "https://api.xero.com" || in.API.TestEndpoint.Source() != "/Connections" {
		t.Errorf("base %s test %s", in.API.BaseURL.Source(), in.API.TestEndpoint.Source())
	}
	if got := actionNames(in); !reflect.DeepEqual(got, []string{"get_connections", "delete_connection"}) {
		t.Errorf("actions %v", got)
	}
	req := render(t, findAction(t, in, "delete_connection"), `{"id": "7cb59f93-2964-421d-bb5e-a0f7a4572a44"}`)
	if req.Method != "DELETE" || req.Path != "/Connections/7cb59f93-2964-421d-bb5e-a0f7a4572a44" {
		t.Errorf("request %+v", req)
	}
	wantStderr(t, r,
		"xero-identity.yaml:154:5: warning: 2 security schemes (BasicAuth, OAuth2); picked OAuth2, the first the document requires that Plugboard supports (--security NAME picks another)",
		"xero-identity.yaml:165:13: warning: no operation names the scopes it needs; none requested: choose from the 3 the scheme declares (listed in a comment)",
		"warning: no /me, /user, /account or /whoami: the test endpoint is the first GET without required parameters that takes the credential, /Connections",
	)
	if !strings.Contains(r.stdout, "test endpoint: GET /Connections (the first GET without required parameters") {
		t.Errorf("stdout should say why it chose the test endpoint, got %s", r)
	}

	// Its HTTP Basic scheme, chosen: a basic manifest, still the same test
	// endpoint (GET /Connections names only OAuth2, and says so).
	r, basic, _ := importDoc(t, doc, "--id", "xero", "--security", "BasicAuth")
	if basic.Auth.Type != manifest.AuthBasic || basic.API.Authorization.Type != manifest.AuthorizeBasic || len(basic.Auth.Inputs) != 2 {
		t.Errorf("auth %s %+v", basic.Auth.Type, basic.Auth.Inputs)
	}
	wantStderr(t, r, "warning: 2 operation(s) name only other security schemes and may refuse the BasicAuth credential",
		"warning: no GET without required parameters names the security scheme BasicAuth; the test endpoint /Connections names others: check it")

	// The same document as JSON imports the same manifest.
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	jsonDoc := filepath.Join(t.TempDir(), "xero-identity.json")
	writeFile(t, jsonDoc, string(js))
	_, fromJSON, _ := importDoc(t, jsonDoc, "--id", "xero")
	if fromJSON.Auth.OAuth2.TokenURL.Source() != o.TokenURL.Source() || !reflect.DeepEqual(actionNames(fromJSON), actionNames(in)) || string(fromJSON.Actions[0].Schema) != string(in.Actions[0].Schema) {
		t.Errorf("JSON and YAML imports differ")
	}
}

// TestImportPetstore: Swagger Petstore, an API key header beside an OAuth
// implicit flow Plugboard cannot use, and a relative server URL.
func TestImportPetstore(t *testing.T) {
	t.Parallel()
	r, in, path := importDoc(t, specPath(t, "swagger-petstore/openapi.yaml"))
	if in.ID != "swagger-petstore" || in.Auth.Type != manifest.AuthAPIKey {
		t.Fatalf("id %s auth %s", in.ID, in.Auth.Type)
	}
	if a := in.API.Authorization; a.Type != manifest.AuthorizeHeader || a.Name != "api_key" || a.Value.Source() != "{{inputs.api_key}}" {
		t.Errorf("authorization %+v", a)
	}
	if len(in.Auth.Inputs) != 1 || !in.Auth.Inputs[0].Secret {
		t.Errorf("inputs %+v", in.Auth.Inputs)
	}
	if in.API.BaseURL.Source() != "https://api.example.com/v3" {
		t.Errorf("base %s", in.API.BaseURL.Source())
	}
	// /store/inventory is the first parameterless GET that takes the api_key
	// credential (findByStatus comes first but takes only petstore_auth).
	if in.API.TestEndpoint.Source() != "/store/inventory" {
		t.Errorf("test endpoint %s", in.API.TestEndpoint.Source())
	}
	want := []string{"add_pet", "update_pet", "find_pets_by_status", "get_pet_by_id", "update_pet_with_form", "delete_pet", "upload_file", "get_inventory", "place_order", "login_user", "logout_user", "get_user_by_name"}
	if got := actionNames(in); !reflect.DeepEqual(got, want) {
		t.Errorf("actions\n got %v\nwant %v", got, want)
	}
	req := render(t, findAction(t, in, "add_pet"), `{"name": "doggie", "photoUrls": ["https://example.com/d.png"], "category": {"id": 1, "name": "Dogs"}, "status": "available"}`)
	if req.Method != "POST" || req.Path != "/pet" || string(req.Body) != `{"category":{"id":1,"name":"Dogs"},"name":"doggie","photoUrls":["https://example.com/d.png"],"status":"available"}` {
		t.Errorf("add_pet request %+v body %s", req, req.Body)
	}
	if errs := findAction(t, in, "add_pet").Check(map[string]any{"name": "doggie"}); len(errs) == 0 {
		t.Error("add_pet should require photoUrls, as the document does")
	}
	req = render(t, findAction(t, in, "find_pets_by_status"), `{"status": "sold"}`)
	if len(req.Query) != 1 || req.Query[0].Name != "status" || req.Query[0].Value != "sold" {
		t.Errorf("find_pets_by_status query %+v", req.Query)
	}
	req = render(t, findAction(t, in, "get_pet_by_id"), `{"petId": 10}`)
	if req.Path != "/pet/10" {
		t.Errorf("get_pet_by_id path %s", req.Path)
	}
	// deletePet's api_key header parameter is the credential: not a parameter.
	if strings.Contains(string(findAction(t, in, "delete_pet").Schema), "api_key") {
		t.Errorf("delete_pet schema %s", findAction(t, in, "delete_pet").Schema)
	}
	wantStderr(t, r,
		`openapi.yaml:5:10: warning: server URL "/v3" is relative to wherever the document is served; the base URL is a placeholder, https://api.example.com/v3 (--base-url sets it)`,
		"warning: security scheme petstore_auth not used: oauth2 with only the implicit flow(s); Plugboard supports authorizationCode and clientCredentials",
		"warning: 2 security schemes (petstore_auth, api_key); picked api_key",
		"warning: 6 operation(s) name only other security schemes and may refuse the api_key credential: POST /pet (addPet)",
		"warning: POST /pet/{petId}/uploadImage (uploadFile): its optional request body is application/octet-stream; the action sends none (actions send JSON)",
	)
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "baseUrl: https://api.example.com/v3 # CHANGE ME: the document's server URL /v3 is relative") {
		t.Errorf("the placeholder should be marked in the manifest:\n%s", b)
	}

	// --base-url replaces the guess; --tags and --max-actions choose.
	r, in, _ = importDoc(t, specPath(t, "swagger-petstore/openapi.yaml"), "--base-url", "https://petstore3.swagger.io/api/v3", "--tags", "store,user", "--max-actions", "3")
	if in.API.BaseURL.Source() != "https://petstore3.swagger.io/api/v3" || strings.Contains(r.stderr, "relative") {
		t.Errorf("base %s, %s", in.API.BaseURL.Source(), r)
	}
	if got := actionNames(in); !reflect.DeepEqual(got, []string{"get_inventory", "place_order", "login_user"}) {
		t.Errorf("actions %v", got)
	}
	wantStderr(t, r, "warning: 2 more operation(s) left out by --max-actions 3 (--tags or --operations choose which)")
}

// TestImportUSPTO: the OpenAPI Initiative's USPTO example, a server
// variable for the scheme and no security at all.
func TestImportUSPTO(t *testing.T) {
	t.Parallel()
	r, in, _ := importDoc(t, specPath(t, "oai/uspto.yaml"), "--id", "uspto")
	if in.API.BaseURL.Source() != "https://developer.uspto.gov/ds-api" || in.API.TestEndpoint.Source() != "/" {
		t.Errorf("base %s test %s", in.API.BaseURL.Source(), in.API.TestEndpoint.Source())
	}
	if in.Auth.Type != manifest.AuthAPIKey || in.API.Authorization.Type != manifest.AuthorizeBearer {
		t.Errorf("auth %s %s", in.Auth.Type, in.API.Authorization.Type)
	}
	if got := actionNames(in); !reflect.DeepEqual(got, []string{"list_data_sets", "list_searchable_fields", "perform_search"}) {
		t.Errorf("actions %v", got)
	}
	req := render(t, findAction(t, in, "list_searchable_fields"), `{"dataset": "oa_citations", "version": "v1"}`)
	if req.Path != "/oa_citations/v1/fields" {
		t.Errorf("path %s", req.Path)
	}
	wantStderr(t, r,
		`uspto.yaml:5:7: warning: server variable {scheme} stands for the scheme, which a manifest cannot leave to the user; used "https"`,
		"uspto.yaml:1:1: warning: the document declares no security scheme; wrote an api_key manifest that sends a pasted token as a bearer token (check it)",
		"warning: POST /{dataset}/{version}/records (perform-search): its optional request body is application/x-www-form-urlencoded; the action sends none (actions send JSON)",
	)
}

// TestImportSecuritySchemes31: the OpenAPI Initiative's 3.1 security
// example: mutualTLS beside OAuth 2, scopes from the requirement, no
// servers.
func TestImportSecuritySchemes31(t *testing.T) {
	t.Parallel()
	r, in, _ := importDoc(t, specPath(t, "oai/security-schemes.yaml"), "--id", "pets")
	if in.Auth.Type != manifest.AuthOAuth2 || !reflect.DeepEqual(in.Auth.OAuth2.Scopes, []string{"read", "write"}) {
		t.Errorf("auth %s scopes %v", in.Auth.Type, in.Auth.OAuth2 != nil && in.Auth.OAuth2.Scopes != nil)
	}
	if in.API.BaseURL.Source() != "https://api.example.com" || in.API.TestEndpoint.Source() != "/pets" {
		t.Errorf("base %s test %s", in.API.BaseURL.Source(), in.API.TestEndpoint.Source())
	}
	wantStderr(t, r,
		"security-schemes.yaml:1:1: warning: the document has no servers: the base URL is a placeholder, https://api.example.com (--base-url sets it)",
		"security-schemes.yaml:46:5: warning: security scheme ClientCertificate not used: mutualTLS (client certificates) is not an auth type of Plugboard",
	)
	if !strings.Contains(r.stdout, "scopes: read write (those the imported operations require)") {
		t.Errorf("got %s", r)
	}
}

// TestImportShapes: server variables that become inputs, an API key in the
// query, 3.1 type lists, allOf/oneOf, a recursive schema, read-only
// properties, names that need rewriting, public endpoints, and the
// operations that cannot be actions.
func TestImportShapes(t *testing.T) {
	t.Parallel()
	doc := specPath(t, "shapes/helpdesk.yaml")
	r, in, _ := importDoc(t, doc)
	if in.ID != "acme-helpdesk" || in.Description != "Tickets and users of an Acme Helpdesk account." {
		t.Errorf("id %s description %q", in.ID, in.Description)
	}
	if in.API.BaseURL.Source() != "https://{{inputs.subdomain}}.acme-help.example/api/v2" {
		t.Errorf("base %s", in.API.BaseURL.Source())
	}
	sub := in.Auth.Inputs[0]
	if sub.Key != "subdomain" || sub.Default != "demo" || sub.Pattern == nil || !sub.Pattern.MatchString("acme") || sub.Pattern.MatchString("evil.example/") {
		t.Errorf("subdomain input %+v", sub)
	}
	if a := in.API.Authorization; a.Type != manifest.AuthorizeQuery || a.Name != "api_key" {
		t.Errorf("authorization %+v", a)
	}
	// /users/me beats /tickets, and /health answers without a credential.
	if in.API.TestEndpoint.Source() != "/users/me" || !strings.Contains(r.stdout, "test endpoint: GET /users/me (it names the signed-in user or account)") {
		t.Errorf("test endpoint %s: %s", in.API.TestEndpoint.Source(), r)
	}
	want := []string{"get_health", "list_tickets", "create_ticket", "get_current_user", "get_ticket", "update_ticket", "bulk_update"}
	if got := actionNames(in); !reflect.DeepEqual(got, want) {
		t.Errorf("actions\n got %v\nwant %v", got, want)
	}
	req := render(t, findAction(t, in, "list_tickets"), `{"per_page": 10, "sort_by": "created", "X_Request_Id": "r1"}`)
	if !reflect.DeepEqual(req.Query, []manifest.NameValue{{Name: "per_page", Value: "10"}, {Name: "sort-by", Value: "created"}}) || !reflect.DeepEqual(req.Headers, []manifest.NameValue{{Name: "X-Request-Id", Value: "r1"}}) {
		t.Errorf("list_tickets %+v", req)
	}
	if errs := findAction(t, in, "list_tickets").Check(map[string]any{"per_page": json.Number("1000")}); len(errs) == 0 {
		t.Error("per_page's maximum (from a $ref'd parameter) should hold")
	}
	req = render(t, findAction(t, in, "create_ticket"), `{"subject": "Printer", "priority": "high", "assignee": 7, "tags": ["hw"]}`)
	if string(req.Body) != `{"assignee":7,"priority":"high","subject":"Printer","tags":["hw"]}` {
		t.Errorf("create_ticket body %s", req.Body)
	}
	upd := string(findAction(t, in, "update_ticket").Schema)
	for _, w := range []string{`"subject"`, `"parent":{"type":"object"}`, `"ticketId":{"minimum":1,"type":"integer"}`} {
		if !strings.Contains(upd, w) {
			t.Errorf("update_ticket schema should contain %s: %s", w, upd)
		}
	}
	if strings.Contains(upd, `"id"`) {
		t.Errorf("read-only id should not be a parameter: %s", upd)
	}
	req = render(t, findAction(t, in, "bulk_update"), `{"body": [{"subject": "a"}]}`)
	if string(req.Body) != `[{"subject":"a"}]` {
		t.Errorf("bulk_update body %s", req.Body)
	}
	wantStderr(t, r,
		"helpdesk.yaml:12:3: warning: 2 servers (1: https://{subdomain}.acme-help.example/api/{version}, 2: https://sandbox.acme-help.example/api/v2); used the first (--server N picks another)",
		"helpdesk.yaml:166:5: warning: security scheme oidc not used: openIdConnect needs its discovery document (https://acme-help.example/.well-known/openid-configuration)",
		"helpdesk.yaml:167:5: warning: security scheme session not used: apiKey in a cookie",
		"helpdesk.yaml:160:5: warning: 5 security schemes (apiKeyQuery, basicAuth, oidc, session, partner); picked apiKeyQuery",
		"helpdesk.yaml:92:7: warning: DELETE /tickets/{ticketId} (deleteTicket) skipped: deprecated (--operations imports it anyway)",
		"helpdesk.yaml:97:7: warning: HEAD /tickets/{ticketId} (ticketExists) skipped: actions are GET, POST, PUT, PATCH or DELETE, not HEAD",
		"helpdesk.yaml:102:7: warning: POST /tickets/{ticketId}/attachments (uploadAttachment) skipped: its request body is multipart/form-data; actions send JSON",
		`helpdesk.yaml:124:7: warning: GET /external (getExternal) skipped: a parameter's $ref "common.yaml#/components/parameters/Page" points into another file, which import does not follow`,
	)

	// Choosing: another server, another scheme, named operations.
	r, in, _ = importDoc(t, doc, "--server", "2", "--security", "basicAuth", "--operations", "getTicket,deleteTicket")
	if in.API.BaseURL.Source() != "https://sandbox.acme-help.example/api/v2" || in.Auth.Type != manifest.AuthBasic || in.API.Authorization.Type != manifest.AuthorizeBasic {
		t.Errorf("base %s auth %s", in.API.BaseURL.Source(), in.Auth.Type)
	}
	if got := actionNames(in); !reflect.DeepEqual(got, []string{"get_ticket", "delete_ticket"}) {
		t.Errorf("actions %v", got)
	}
	if strings.Contains(r.stderr, "servers") {
		t.Errorf("--server chose: no warning expected, got %s", r)
	}

	// Client credentials, with a relative token URL kept on the tenant's host.
	r, in, _ = importDoc(t, doc, "--security", "partner")
	if in.Auth.Type != manifest.AuthClientCredentials || in.Auth.ClientCredentials.TokenURL.Source() != "https://{{inputs.subdomain}}.acme-help.example/oauth/token" {
		t.Errorf("auth %s", in.Auth.Type)
	}
	wantStderr(t, r, `warning: tokenUrl "/oauth/token" is relative; resolved against the base URL to https://{{inputs.subdomain}}.acme-help.example/oauth/token`,
		"warning: no GET without required parameters names the security scheme partner; the test endpoint /users/me names others: check it")
}

// TestImportDropsRefusedActions: an operation whose path the manifest
// refuses (dot segments, spaces) is left out with the loader's reason; an
// http bearer scheme becomes a pasted token.
func TestImportDropsRefusedActions(t *testing.T) {
	t.Parallel()
	doc := filepath.Join(t.TempDir(), "odd.yaml")
	writeFile(t, doc, `openapi: 3.0.3
info: {title: Odd, version: "1"}
servers: [{url: "https://odd.example/v1"}]
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer, bearerFormat: JWT}
security: [{bearer: []}]
paths:
  /me:
    get: {operationId: me, responses: {'200': {description: ok}}}
  /files/%2e%2e/{name}:
    get: {operationId: dotted, parameters: [{name: name, in: path, required: true, schema: {type: string}}], responses: {'200': {description: ok}}}
  /a b/c:
    get: {operationId: spaced, responses: {'200': {description: ok}}}
`)
	r, in, _ := importDoc(t, doc)
	if got := actionNames(in); !reflect.DeepEqual(got, []string{"me"}) {
		t.Errorf("actions %v", got)
	}
	if in.Auth.Type != manifest.AuthAPIKey || in.API.Authorization.Type != manifest.AuthorizeBearer || in.Auth.Inputs[0].Help != "A JWT token." {
		t.Errorf("auth %s %+v", in.Auth.Type, in.Auth.Inputs)
	}
	wantStderr(t, r,
		"odd.yaml:12:10: warning: GET /files/%2e%2e/{name} (dotted) skipped: the manifest refuses it (actions[1].path: dot segments (. or ..) are not allowed in a path)",
		"odd.yaml:14:10: warning: GET /a b/c (spaced) skipped: the manifest refuses it (actions[2].path: path contains whitespace",
		"odd.yaml:6:5: warning: security scheme bearer is http bearer: the user pastes a token",
	)
	if !strings.Contains(r.stdout, "actions: 1 of 3 operation(s)") {
		t.Errorf("got %s", r)
	}
}

// TestImportLargeDocument: a document whose actions would not fit in a
// manifest (256 KiB) gets as many as fit, and says which were left out.
func TestImportLargeDocument(t *testing.T) {
	t.Parallel()
	props := map[string]any{}
	for i := range 40 {
		props[fmt.Sprintf("field%d", i)] = map[string]any{"type": "string", "description": strings.Repeat("A property described at length. ", 8)}
	}
	paths := map[string]any{"/me": map[string]any{"get": map[string]any{"operationId": "me", "responses": map[string]any{"200": map[string]any{"description": "ok"}}}}}
	for i := range 150 {
		paths[fmt.Sprintf("/things%03d", i)] = map[string]any{"post": map[string]any{
			"operationId": fmt.Sprintf("createThing%03d", i),
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Thing"}}}},
			"responses":   map[string]any{"201": map[string]any{"description": "created"}},
		}}
	}
	doc := map[string]any{
		"openapi": "3.0.3", "info": map[string]any{"title": "Big", "version": "1"},
		"servers":    []any{map[string]any{"url": "https://big.example"}},
		"security":   []any{map[string]any{"key": []any{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": map[string]any{"Thing": map[string]any{"type": "object", "properties": props}}, "securitySchemes": map[string]any{"key": map[string]any{"type": "apiKey", "in": "header", "name": "X-Key"}}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "big.json")
	writeFile(t, file, string(b))
	r, in, path := importDoc(t, file, "--max-actions", "200")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > manifest.MaxManifestBytes || len(in.Actions) < 10 || len(in.Actions) > 150 {
		t.Errorf("%d bytes, %d actions", fi.Size(), len(in.Actions))
	}
	wantStderr(t, r, "left out: the manifest would be larger than the 256 KiB a manifest may be")
	if !strings.Contains(r.stdout, fmt.Sprintf("actions: %d of 151 operation(s)", len(in.Actions))) {
		t.Errorf("got %s", r)
	}
}

func TestImportChoiceErrors(t *testing.T) {
	t.Parallel()
	doc := specPath(t, "shapes/helpdesk.yaml")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--security", "basicauth"}, `--security "basicauth": the document has no such security scheme (did you mean "basicAuth"?)`},
		{[]string{"--security", "oidc"}, "--security oidc: openIdConnect needs its discovery document"},
		{[]string{"--operations", "getTickets"}, `--operations: the document has no operation "getTickets" (did you mean "getTicket"?)`},
		{[]string{"--tags", "billing"}, "--tags billing: no operation has these tags"},
		{[]string{"--server", "3"}, "--server 3: the document has 2 server(s)"},
		{[]string{"--max-actions", "201"}, "--max-actions 201 is outside 0…200"},
		{[]string{"--id", "Help Desk"}, `id "Help Desk" is not valid`},
		{[]string{"--base-url", "help.example"}, `base URL "help.example" is not an absolute http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := runIn(t, dir, nil, append(append([]string{"import", "openapi"}, tt.args...), doc)...)
			wantCode(t, r, 2)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr should contain %q, got %s", tt.want, r)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("wrote %v", entries)
			}
		})
	}
}

// TestImportBadDocuments: each refusal names the file, and the line and
// column where it can, and writes nothing.
func TestImportBadDocuments(t *testing.T) {
	t.Parallel()
	petstore, err := os.ReadFile(specPath(t, "swagger-petstore/openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(petstore), "$ref: '#/components/schemas/Category'", "$ref: '#/components/schemas/Categroy'", 1)
	broken = strings.Replace(broken, "$ref: '#/components/schemas/ApiResponse'", "$ref: '#/components/schema/ApiResponse'", 1)
	tests := []struct {
		name, file, content string
		code                int
		want                []string
	}{
		{"not OpenAPI", "manifest.yaml", "id: acme\nname: Acme\n", 1, []string{"manifest.yaml:1:1: not an OpenAPI document: it has no openapi field (want openapi: 3.0.x or 3.1.x at the top)"}},
		{"Swagger 2.0", "swagger.json", "{\"swagger\": \"2.0\", \"info\": {\"title\": \"Old\"}, \"paths\": {}}\n", 1, []string{"swagger.json:1:13: this is a Swagger 2.0 document; import openapi reads OpenAPI 3.0 and 3.1 (convert it first"}},
		{"other version", "v4.yaml", "openapi: 4.0.0\ninfo: {title: Next}\n", 1, []string{`v4.yaml:1:10: openapi version "4.0.0" is not supported`}},
		{"broken refs", "openapi.yaml", broken, 1, []string{
			`openapi.yaml:518:17: $ref "#/components/schemas/Categroy" not found: #/components/schemas has no "Categroy" (did you mean "Category"?)`,
			`openapi.yaml:270:23: $ref "#/components/schema/ApiResponse" not found: #/components has no "schema" (did you mean "schemas"?)`,
		}},
		{"not YAML", "notes.yaml", "openapi: 3.0.0\npaths: [\n  - a\n  b: {\n", 1, []string{"notes.yaml:", "not a YAML or JSON document"}},
		{"a list", "list.json", "[1, 2]\n", 1, []string{"list.json:1:1: not an OpenAPI document: the top level is not a mapping"}},
		{"empty", "empty.yaml", "", 1, []string{"empty.yaml: the file is empty; want an OpenAPI 3 document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "in", tt.file), tt.content)
			r := runIn(t, dir, nil, "import", "openapi", "--out", "out", filepath.Join("in", tt.file))
			wantCode(t, r, tt.code)
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, filepath.Join("in", w)) && !strings.Contains(r.stderr, w) {
					t.Errorf("stderr should contain %q, got %s", w, r)
				}
			}
			if !strings.Contains(r.stderr, "cannot be imported; nothing written") {
				t.Errorf("got %s", r)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Error("something was written")
			}
		})
	}

	// An unreadable FILE is a usage error, like validate's missing path.
	dir := t.TempDir()
	r := runIn(t, dir, nil, "import", "openapi", "nope.yaml")
	wantCode(t, r, 2)
	wantStderr(t, r, "plugboard import openapi: cannot read nope.yaml: no such file or directory")
	r = runIn(t, dir, nil, "import", "openapi", ".")
	wantCode(t, r, 2)
	wantStderr(t, r, "cannot read .: . is a folder; want an OpenAPI document (a .yaml or .json file)")
	r = runIn(t, dir, nil, "import", "openapi")
	wantCode(t, r, 2)
	wantStderr(t, r, "which document? Give the OpenAPI file")
	r = runIn(t, dir, nil, "import", "opnapi", "x.yaml")
	wantCode(t, r, 2)
	wantStderr(t, r, `plugboard import: unknown format "opnapi" (did you mean "openapi"?)`)

	// An existing manifest is kept unless --force.
	doc := specPath(t, "xero/xero-identity.yaml")
	wantCode(t, runIn(t, dir, nil, "import", "openapi", "--id", "xero", doc), 0)
	r = runIn(t, dir, nil, "import", "openapi", "--id", "xero", doc)
	wantCode(t, r, 1)
	wantStderr(t, r, "xero.yaml already exists; --force overwrites it")
	wantCode(t, runIn(t, dir, nil, "import", "openapi", "--id", "xero", "--force", doc), 0)
}

func TestNewAndImportHelp(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"new", "--help"}, []string{"Usage: plugboard new", "  --auth string", "  --base-url string", "  --force\n", "oauth2_client_credentials", "Exit status"}},
		{[]string{"import", "openapi", "--help"}, []string{"Usage: plugboard import openapi [flags] FILE", "  --max-actions int", "  --security string", "  --tags string", "  --operations string", "Exit status"}},
		{[]string{"import", "--help"}, []string{"Usage: plugboard import FORMAT", "openapi"}},
		{[]string{"help", "new"}, []string{"Usage: plugboard new"}},
		{[]string{"help"}, []string{"\n  new ", "\n  import "}},
	} {
		r := runIn(t, t.TempDir(), nil, tt.args...)
		wantCode(t, r, 0)
		for _, w := range tt.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v: stdout should contain %q, got %s", tt.args, w, r)
			}
		}
	}
	r := runIn(t, t.TempDir(), nil, "neww")
	wantCode(t, r, 2)
	wantStderr(t, r, `unknown command "neww" (did you mean "new"?)`)
}

// TestImportServerURLs: where a server variable stands decides whether it
// can become an input.
func TestImportServerURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, variables string
		base           string
		inputs         []string // key=pattern or key=enum
		note           string
	}{
		{"https://{tenant}.api.example.com", "{tenant: {default: acme}}", "https://{{inputs.tenant}}.api.example.com", []string{"tenant=^(?:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$"}, ""},
		{"https://{region}.example.com/v1", "{region: {default: eu, enum: [eu, us]}}", "https://{{inputs.region}}.example.com/v1", []string{"region=[eu us]"}, ""},
		{"https://api.example.com/{basePath}", "{basePath: {default: v2}}", "https://api.example.com/{{inputs.base_path}}", []string{"base_path=^(?:[A-Za-z0-9._~-]+)$"}, ""},
		{"https://{host}/v1", "{host: {default: api.example.com}}", "https://api.example.com/v1", nil, `server variable {host} stands for the whole host, which a manifest cannot leave to the user; used "api.example.com"`},
		{"https://api.example.com:{port}/v1", "{port: {default: '8443', enum: ['8443', '443']}}", "https://api.example.com:8443/v1", nil, `server variable {port} stands for the port`},
		{"https://{sub}.example.com:{port}", "{sub: {default: a}, port: {default: '443'}}", "https://{{inputs.sub}}.example.com:443", []string{"sub=^(?:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$"}, `server variable {port} stands for the port`},
		{"https://api.example.com/{version}", "{version: {default: v3, enum: [v3]}}", "https://api.example.com/v3", nil, ""},
		{"http://api.example.com", "{}", "http://api.example.com", nil, `server URL "http://api.example.com" uses plain http; validate --strict refuses it`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := filepath.Join(dir, "doc.yaml")
			writeFile(t, file, fmt.Sprintf("openapi: 3.0.3\ninfo: {title: Srv, version: '1'}\nservers:\n  - url: '%s'\n    variables: %s\npaths: {}\n", tt.url, tt.variables))
			d, err := readOpenAPI(file)
			if err != nil {
				t.Fatal(err)
			}
			im := &importer{d: d, opts: importOptions{server: 1}}
			m := &imported{}
			if err := im.servers(m); err != nil {
				t.Fatal(err)
			}
			if m.baseURL != tt.base {
				t.Errorf("base %s, want %s", m.baseURL, tt.base)
			}
			var got []string
			for _, in := range m.inputs {
				if len(in.enum) > 0 {
					got = append(got, fmt.Sprintf("%s=%v", in.key, in.enum))
				} else {
					got = append(got, in.key+"=^(?:"+in.pattern+")$")
				}
			}
			if !reflect.DeepEqual(got, tt.inputs) {
				t.Errorf("inputs %v, want %v", got, tt.inputs)
			}
			notes := strings.Join(im.notes, "\n")
			if tt.note != "" && !strings.Contains(notes, tt.note) || tt.note == "" && notes != "" {
				t.Errorf("notes %q, want %q", notes, tt.note)
			}
		})
	}
}

// TestImportSharedRefsDoNotExplode: a schema that shares its $refs through
// allOf doubles at every level (2^40 parts here, from 40 lines); the import
// skips that operation, says why, and finishes.
func TestImportSharedRefsDoNotExplode(t *testing.T) {
	t.Parallel()
	var schemas strings.Builder
	schemas.WriteString("    A0: {type: object, properties: {x: {type: string}}}\n")
	for k := 1; k <= 40; k++ {
		fmt.Fprintf(&schemas, "    A%d: {allOf: [{$ref: '#/components/schemas/A%d'}, {$ref: '#/components/schemas/A%d'}]}\n", k, k-1, k-1)
	}
	doc := filepath.Join(t.TempDir(), "doubling.yaml")
	writeFile(t, doc, `openapi: 3.0.3
info: {title: Doubling, version: "1"}
servers: [{url: "https://doubling.example/v1"}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Api-Key}
  schemas:
`+schemas.String()+`security: [{key: []}]
paths:
  /me:
    get: {operationId: me, responses: {'200': {description: ok}}}
  /things:
    post:
      operationId: create_thing
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/A40'}}}}
      responses: {'200': {description: ok}}
`)
	r, in, _ := importDoc(t, doc)
	if got := actionNames(in); !reflect.DeepEqual(got, []string{"me"}) {
		t.Errorf("actions %v", got)
	}
	if !strings.Contains(r.stderr, "create_thing) skipped: its request body: its schema expands to more than 20000 parts") {
		t.Errorf("stderr does not say why create_thing was skipped:\n%s", r.stderr)
	}
}
