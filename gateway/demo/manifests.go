package demo

import (
	"embed"
	"errors"
	"io/fs"
	"path"
	"strings"

	"github.com/plugboardhq/plugboard/manifest"
)

//go:embed manifests/*.yaml
var manifestFiles embed.FS

// baseURLPlaceholder in the embedded manifests becomes the gateway's URL.
const baseURLPlaceholder = "@BASE_URL@"

// ClientSecretRef is the secret reference the demo-oauth manifest uses for
// its client secret. Manifests cannot hold literal secrets, so the demo
// manifests are parsed with a resolver of their own that answers this one
// name with Server.ClientSecret; it never reads the process environment,
// and the operator's secret policy does not apply to it.
const ClientSecretRef = "DEMO_OAUTH_CLIENT_SECRET"

// PathPrefix starts the catalog path of every demo manifest (admin API,
// logs, metrics), so they are told apart from files of the manifest folder.
const PathPrefix = "demo:"

// Manifests parses the embedded demo manifests for this server: one
// integration per auth type (demo-apikey, demo-basic, demo-oauth,
// demo-clientcreds), pointing at BaseURL. They go through manifest.Parse,
// the code path of every manifest file; problems are returned with them.
func (s *Server) Manifests() []manifest.FileResult {
	entries, err := fs.ReadDir(manifestFiles, "manifests")
	if err != nil {
		panic(err) // embedded at build time
	}
	noFiles := func(string) ([]byte, error) { return nil, errors.New("demo manifests read no files") }
	opts := manifest.Options{
		ResolveSecrets: true,
		Secrets: manifest.SecretResolver{
			LookupEnv: func(name string) (string, bool) {
				if name == ClientSecretRef {
					return s.ClientSecret, true
				}
				return "", false
			},
			ReadFile: noFiles,
		},
		ReadFile: noFiles,
	}
	base := strings.TrimRight(s.BaseURL, "/")
	var out []manifest.FileResult
	for _, e := range entries {
		data, err := manifestFiles.ReadFile(path.Join("manifests", e.Name()))
		if err != nil {
			panic(err)
		}
		data = []byte(strings.ReplaceAll(string(data), baseURLPlaceholder, base))
		name := PathPrefix + e.Name()
		if manifest.IsWorkflowFile(e.Name()) {
			out = append(out, manifest.WorkflowFileResult(name, data))
			continue
		}
		in, probs := manifest.Parse(name, data, opts)
		out = append(out, manifest.FileResult{Path: name, Integration: in, Problems: probs})
	}
	return out
}
