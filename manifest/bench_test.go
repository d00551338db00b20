package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// benchManifest returns a valid manifest for index i, rotating through the
// auth types, file and inline icons, inputs in hosts and paths.
func benchManifest(i int) (yaml, svgName, svg string) {
	id := fmt.Sprintf("bench-%04d", i)
	svg = fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#%06X"/><path d="M%d 44 L32 %d L44 44 Z" fill="#fff"/><circle cx="32" cy="32" r="%d" fill="none" stroke="#fff"/></svg>`, i*2654435%0xFFFFFF, 10+i%20, 10+i%15, 4+i%20)
	icon := "icon: " + id + ".svg"
	if i%2 == 1 {
		icon, svgName = "icon: |\n  "+svg, ""
	} else {
		svgName = id + ".svg"
	}
	head := fmt.Sprintf("id: %s\nname: Bench %d\ndescription: Benchmark integration number %d.\n%s\naccentColor: \"#%06X\"\n", id, i, i, icon, i*40503%0xFFFFFF)
	var body string
	switch i % 4 {
	case 0:
		body = `auth:
  type: oauth2
  inputs:
    - key: tenant
      label: Tenant
      pattern: "[a-z0-9][a-z0-9-]{0,62}"
  oauth2:
    authorizationUrl: https://{{inputs.tenant}}.example.com/oauth/authorize
    tokenUrl: https://{{inputs.tenant}}.example.com/oauth/token
    clientId: ${BENCH_CLIENT_ID}
    clientSecret: ${BENCH_CLIENT_SECRET}
    scopes: [read, write]
    authorizationParams:
      prompt: consent
api:
  baseUrl: https://{{inputs.tenant}}.example.com/api/v2
  headers:
    Accept: application/json
  testEndpoint: /users/me
`
	case 1:
		body = `auth:
  type: api_key
  inputs:
    - key: region
      label: Region
      enum: [us, eu, ap]
    - key: api_key
      label: API key
      secret: true
      pattern: "ak_[A-Za-z0-9]+"
api:
  baseUrl: https://api.{{inputs.region}}.example.com/v1
  authorization:
    type: header
    name: X-Api-Key
    value: "{{inputs.api_key}}"
  testEndpoint: /me?region={{inputs.region}}
  timeout: 20s
`
	case 2:
		body = `auth:
  type: basic
  inputs:
    - key: email
      label: Email
    - key: api_token
      label: API token
      secret: true
api:
  baseUrl: https://api.example.com/rest
  authorization:
    type: basic
    username: "{{inputs.email}}/token"
    password: "{{inputs.api_token}}"
  testEndpoint: /myself
`
	default:
		body = `auth:
  type: oauth2_client_credentials
  inputs:
    - key: account_id
      label: Account ID
      pattern: "[A-Za-z0-9_-]{1,64}"
  clientCredentials:
    tokenUrl: https://auth.example.com/oauth/token
    tokenParams:
      account_id: "{{inputs.account_id}}"
api:
  baseUrl: https://api.example.com/v2
  testEndpoint: /accounts/{{inputs.account_id}}
`
	}
	return head + body, svgName, svg
}

// writeBenchFolder writes n manifests (and their icon files) to a new
// folder and returns it with the bytes written.
func writeBenchFolder(b *testing.B, n int) (dir string, size int64) {
	dir = b.TempDir()
	for i := range n {
		yaml, svgName, svg := benchManifest(i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("bench-%05d.yaml", i)), []byte(yaml), 0o644); err != nil {
			b.Fatal(err)
		}
		size += int64(len(yaml))
		if svgName != "" {
			if err := os.WriteFile(filepath.Join(dir, svgName), []byte(svg), 0o644); err != nil {
				b.Fatal(err)
			}
			size += int64(len(svg))
		}
	}
	return dir, size
}

// growthSizes are the folder sizes the growth benchmarks measure: 1,000
// manifests, and 10,000 with PLUGBOARD_GROWTH=1 (README "How cost grows").
func growthSizes() []int {
	if os.Getenv("PLUGBOARD_GROWTH") == "1" {
		return []int{1_000, 10_000}
	}
	return []int{1_000}
}

// BenchmarkLoad measures loading a folder of manifests, the work of
// `plugboard validate` and of a reload without a parse cache; heap-MB is
// the memory the loaded result keeps.
func BenchmarkLoad(b *testing.B) {
	for _, n := range growthSizes() {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir, size := writeBenchFolder(b, n)
			before := heapInUse()
			res, err := LoadPaths([]string{dir}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if probs := res.Problems(); len(probs) > 0 || len(res.Integrations()) != n {
				b.Fatalf("%d integrations, problems:\n%v", len(res.Integrations()), probs)
			}
			heap := float64(heapInUse()-before) / (1 << 20)
			runtime.KeepAlive(res)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := LoadPaths([]string{dir}, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(heap, "heap-MB")
		})
	}
}

// BenchmarkLoadCached measures reloading a folder of manifests of which
// one changed, through a ParseCache (what the gateway's reload does).
func BenchmarkLoadCached(b *testing.B) {
	for _, n := range growthSizes() {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir, _ := writeBenchFolder(b, n)
			cache := &ParseCache{}
			opts := Options{Cache: cache}
			if res, err := LoadPaths([]string{dir}, opts); err != nil || len(res.Integrations()) != n {
				b.Fatalf("%v, %d integrations", err, len(res.Integrations()))
			}
			edited := filepath.Join(dir, "bench-00003.yaml")
			yaml, _, _ := benchManifest(3)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				i++
				if err := os.WriteFile(edited, []byte(strings.Replace(yaml, "Benchmark integration", fmt.Sprintf("Edit %d of the integration", i), 1)), 0o644); err != nil {
					b.Fatal(err)
				}
				res, err := LoadPaths([]string{dir}, opts)
				if err != nil || len(res.Integrations()) != n {
					b.Fatalf("%v, %d integrations", err, len(res.Integrations()))
				}
			}
		})
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
