package manifest

import (
	"fmt"
	"strings"
	"testing"
)

const websocketManifest = `id: acme-ws
name: Acme Streams
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: https://stream.acme.com/v1
  authorization:
    type: bearer
    token: "{{inputs.api_key}}"
  testEndpoint: /me
`

func TestAPIWebsocket(t *testing.T) {
	for _, c := range []struct {
		extra string
		want  bool
	}{{"", false}, {"  websocket: false\n", false}, {"  websocket: true\n", true}} {
		in, probs := Parse("acme-ws.yaml", []byte(websocketManifest+c.extra), Options{})
		if in == nil || probs.HasErrors(false) {
			t.Fatalf("%q: %v", c.extra, probs)
		}
		if in.API.Websocket != c.want {
			t.Errorf("%q: API.Websocket = %v", c.extra, in.API.Websocket)
		}
	}
	in, probs := Parse("acme-ws.yaml", []byte(websocketManifest+"  websocket: \"yes\"\n"), Options{})
	if in != nil || !strings.Contains(fmt.Sprint(probs), "api.websocket: must be boolean, but got string") {
		t.Errorf("a string websocket: %v", probs)
	}
}
