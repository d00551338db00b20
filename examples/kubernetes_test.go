package examples

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/manifest"
)

// TestKubernetesObjects checks that every YAML document in
// examples/kubernetes is a Kubernetes object, and that kustomization.yaml
// lists exactly the other files.
func TestKubernetesObjects(t *testing.T) {
	objs := loadKubernetes(t)
	seen := map[string]string{}
	files := map[string]bool{}
	var kust *object
	for _, o := range objs {
		if o.Kind == "Kustomization" {
			kust = o
			continue
		}
		files[filepath.Base(o.File)] = true
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Errorf("%s: a document lacks apiVersion, kind or metadata.name (%q %q %q)", o.File, o.APIVersion, o.Kind, o.Metadata.Name)
		}
		id := o.APIVersion + " " + o.Kind + " " + o.Metadata.Name
		if prev, dup := seen[id]; dup {
			t.Errorf("%s and %s both define %s", prev, o.File, id)
		}
		seen[id] = o.File
	}
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "Secret", "PodMonitor"} {
		if !slices.ContainsFunc(objs, func(o *object) bool { return o.Kind == kind }) {
			t.Errorf("examples/kubernetes has no %s", kind)
		}
	}
	if pm := find(t, objs, "PodMonitor", ""); pm.APIVersion != "monitoring.coreos.com/v1" {
		t.Errorf("PodMonitor apiVersion %q, want monitoring.coreos.com/v1", pm.APIVersion)
	}
	if kust == nil {
		t.Fatal("no kustomization.yaml")
	}
	var k kustomization
	kust.decode(t, &k)
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[r] = true
		if !files[r] {
			t.Errorf("kustomization.yaml lists %s, which is not a file of objects here", r)
		}
	}
	for f := range files {
		if !listed[f] {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
}

// TestDeploymentCommandLine checks the gateway's args and environment
// against the real `plugboard serve` flags.
func TestDeploymentCommandLine(t *testing.T) {
	g := loadGateway(t)
	if r := g.deployment.Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("replicas = %v, want 3", r)
	}
	if !strings.HasPrefix(g.container.Image, "ghcr.io/plugboardhq/plugboard:") {
		t.Errorf("image %q", g.container.Image)
	}

	// Every PLUGBOARD_* variable is a flag's (or one the help names, such as
	// PLUGBOARD_ENCRYPTION_KEYS), and is not also set on the command line,
	// where the flag would silently win.
	helpVars := map[string]bool{}
	for _, v := range regexp.MustCompile(`PLUGBOARD_[A-Z0-9_]+`).FindAllString(g.cli.Help, -1) {
		helpVars[v] = true
	}
	flagOf := map[string]string{}
	for name := range g.cli.Flags {
		flagOf[envName(name)] = name
	}
	if flagOf["PLUGBOARD_PUBLIC_URL"] != "public-url" || !helpVars["PLUGBOARD_PUBLIC_URL"] {
		t.Fatalf("serve --help no longer documents --public-url as PLUGBOARD_PUBLIC_URL; update envName")
	}
	for _, name := range slices.Sorted(maps.Keys(g.env)) {
		if !strings.HasPrefix(name, "PLUGBOARD_") {
			continue
		}
		f, isFlag := flagOf[name]
		switch {
		case isFlag:
			if _, onCommandLine := g.args[f]; onCommandLine {
				t.Errorf("%s and --%s are both set: the command line wins", name, f)
			}
		case !helpVars[name]:
			t.Errorf("env %s is neither a serve flag's variable nor named in `plugboard serve --help`", name)
		}
	}

	if got := g.flag(t, "mode"); got != "production" {
		t.Errorf("--mode=%q, want production", got)
	}
	if got := g.flag(t, "public-url"); !strings.HasPrefix(got, "https://") {
		t.Errorf("--public-url=%q, want an https:// URL (OAuth redirect URIs, secure cookies)", got)
	}
	if got := g.flag(t, "allowed-origins"); got == "" {
		t.Error("--allowed-origins is not set")
	}
	for _, name := range []string{"PLUGBOARD_ADMIN_TOKEN", "PLUGBOARD_ENCRYPTION_KEYS"} {
		if src, ok := g.env[name]; !ok || src.Secret == "" {
			t.Errorf("%s must come from a Secret", name)
		}
	}

	// Several replicas share one PostgreSQL store, given as a secret.
	store, ok := g.env[envName("store")]
	if !ok || store.Secret == "" {
		t.Fatalf("%s must come from a Secret (it holds the database password)", envName("store"))
	}
	if _, onCommandLine := g.args["store"]; onCommandLine {
		t.Error("--store on the command line would show the database password in the pod spec")
	}
	var s secret
	find(t, g.objs, "Secret", store.Secret).decode(t, &s)
	if v := s.StringData[store.Key]; !strings.HasPrefix(v, "postgres://") {
		t.Errorf("Secret %s key %s = %q: several replicas need a shared postgres:// store", store.Secret, store.Key, v)
	}

	// The project's public keys are mounted files.
	for _, k := range g.projectKeys(t) {
		dir, name := filepath.Split(k)
		m, v := g.mountFor(dir)
		if m == nil || v == nil || v.ConfigMap == nil && v.Secret == nil {
			t.Errorf("project key %s is not in a mounted ConfigMap or Secret", k)
			continue
		}
		if v.ConfigMap != nil {
			if _, ok := g.configMapFiles(t, v)[name]; !ok {
				t.Errorf("project key %s: ConfigMap %s has no key %s", k, v.ConfigMap.Name, name)
			}
		}
	}
}

// TestDeploymentProbesAndShutdown checks the probes, the listen port and
// the shutdown timing.
func TestDeploymentProbesAndShutdown(t *testing.T) {
	g := loadGateway(t)
	listen := g.flag(t, "listen")
	_, port, ok := strings.Cut(listen, ":")
	if !ok || strings.HasPrefix(listen, "127.") || strings.HasPrefix(listen, "localhost") {
		t.Fatalf("--listen=%q: want 0.0.0.0:PORT (reachable from the kubelet and the Service)", listen)
	}
	if len(g.container.Ports) != 1 || fmt.Sprint(g.container.Ports[0].ContainerPort) != port {
		t.Errorf("container ports %+v: want one, %s (--listen)", g.container.Ports, port)
	}
	for _, p := range []struct {
		name, path string
		probe      *probe
	}{
		{"readinessProbe", "/readyz", g.container.ReadinessProbe},
		{"livenessProbe", "/healthz", g.container.LivenessProbe},
		{"startupProbe", "/healthz", g.container.StartupProbe},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			if p.name != "startupProbe" {
				t.Errorf("no %s httpGet", p.name)
			}
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s path %q, want %s", p.name, p.probe.HTTPGet.Path, p.path)
		}
		if got := g.containerPort(p.probe.HTTPGet.Port); fmt.Sprint(got) != port {
			t.Errorf("%s port %v is not the container port %s", p.name, p.probe.HTTPGet.Port, port)
		}
	}

	// The kubelet's grace period starts with the preStop hook and must
	// outlast it plus the gateway's own drain.
	var preStop time.Duration
	switch ps := g.container.Lifecycle.PreStop; {
	case ps != nil && ps.Sleep != nil:
		preStop = time.Duration(ps.Sleep.Seconds) * time.Second
	case ps != nil && ps.Exec != nil && len(ps.Exec.Command) == 2 && ps.Exec.Command[0] == "sleep":
		d, err := time.ParseDuration(ps.Exec.Command[1] + "s")
		if err != nil {
			t.Fatalf("preStop %q: %v", ps.Exec.Command, err)
		}
		preStop = d
	default:
		t.Fatal("no preStop sleep: without one, requests still routed to a terminating pod hit a closed listener")
	}
	if preStop < 5*time.Second {
		t.Errorf("preStop sleep %v: endpoint removal takes a few seconds to propagate", preStop)
	}
	grace := g.duration(t, "shutdown-grace")
	tgps := g.pod.TerminationGracePeriodSeconds
	if tgps == nil {
		t.Fatal("terminationGracePeriodSeconds is not set (default 30s)")
	}
	if total := time.Duration(*tgps) * time.Second; total <= preStop+grace {
		t.Errorf("terminationGracePeriodSeconds %v <= preStop %v + --shutdown-grace %v: draining gateways would be killed", total, preStop, grace)
	}
}

// TestDeploymentHardening checks the security context, volumes, resources
// and scrape configuration.
func TestDeploymentHardening(t *testing.T) {
	g := loadGateway(t)
	sc := g.container.SecurityContext
	if !isTrue(g.pod.SecurityContext.RunAsNonRoot) && !isTrue(sc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("capabilities do not drop ALL")
	}
	if g.pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
		t.Error("no RuntimeDefault seccomp profile (Pod Security Standard: restricted)")
	}
	// The data folder must be writable under a read-only root: an emptyDir,
	// since production keeps nothing there.
	data := g.flag(t, "data")
	if m, v := g.mountFor(data); m == nil || v == nil || v.EmptyDir == nil {
		t.Errorf("--data=%s is not an emptyDir mount", data)
	}
	if g.container.Resources.Requests["cpu"] == "" || g.container.Resources.Requests["memory"] == "" || g.container.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", g.container.Resources)
	}

	ann := g.deployment.Spec.Template.Metadata.Annotations
	_, port, _ := strings.Cut(g.flag(t, "listen"), ":")
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations %v: want prometheus.io/scrape, port %s, path /metrics", ann, port)
	}
	var pm podMonitor
	find(t, g.objs, "PodMonitor", "").decode(t, &pm)
	for _, ep := range pm.Spec.PodMetricsEndpoints {
		if g.containerPort(ep.Port) == 0 || ep.Path != "/metrics" {
			t.Errorf("PodMonitor endpoint %+v: want a container port name and /metrics", ep)
		}
	}
}

// TestKubernetesReferences checks that what refers to what resolves: labels
// and selectors, Secret and ConfigMap keys, Service and Ingress ports.
func TestKubernetesReferences(t *testing.T) {
	g := loadGateway(t)
	podLabels := g.deployment.Spec.Template.Metadata.Labels
	matches := func(what string, sel map[string]string) {
		if len(sel) == 0 {
			t.Errorf("%s: empty selector", what)
		}
		for k, v := range sel {
			if podLabels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the pod labels %v", what, k, v, podLabels)
			}
		}
	}
	matches("Deployment", g.deployment.Spec.Selector.MatchLabels)
	var svc service
	find(t, g.objs, "Service", "plugboard").decode(t, &svc)
	matches("Service", svc.Spec.Selector)
	for _, p := range svc.Spec.Ports {
		if g.containerPort(p.TargetPort) == 0 {
			t.Errorf("Service port %s: targetPort %v is not a container port", p.Name, p.TargetPort)
		}
	}
	for _, kind := range []string{"PodDisruptionBudget", "PodMonitor"} {
		if o := find(t, g.objs, kind, ""); o != nil {
			var s selectorSpec
			o.decode(t, &s)
			matches(kind, s.Spec.Selector.MatchLabels)
		}
	}

	for _, name := range slices.Sorted(maps.Keys(g.env)) {
		src := g.env[name]
		switch {
		case src.Secret != "":
			o := lookup(g.objs, "Secret", src.Secret)
			if o == nil {
				t.Errorf("env %s: Secret %s is not in examples/kubernetes", name, src.Secret)
				continue
			}
			var s secret
			o.decode(t, &s)
			if !s.keys()[src.Key] {
				t.Errorf("env %s: Secret %s has no key %s", name, src.Secret, src.Key)
			}
		case src.ConfigMap != "":
			o := lookup(g.objs, "ConfigMap", src.ConfigMap)
			var cm configMap
			if o != nil {
				o.decode(t, &cm)
			}
			if _, ok := cm.Data[src.Key]; !ok {
				t.Errorf("env %s: ConfigMap %s key %s is not in examples/kubernetes", name, src.ConfigMap, src.Key)
			}
		}
	}
	for _, m := range g.container.VolumeMounts {
		if !slices.ContainsFunc(g.pod.Volumes, func(v volume) bool { return v.Name == m.Name }) {
			t.Errorf("volumeMount %s has no volume", m.Name)
		}
	}
	for _, v := range g.pod.Volumes {
		if v.ConfigMap != nil {
			g.configMapFiles(t, &v) // fails when the ConfigMap is missing
		}
		if v.Secret != nil && lookup(g.objs, "Secret", v.Secret.SecretName) == nil {
			t.Errorf("volume %s: Secret %s is not in examples/kubernetes", v.Name, v.Secret.SecretName)
		}
	}

	// Secrets hold placeholders only, in stringData where they can be seen.
	for _, o := range g.objs {
		if o.Kind != "Secret" {
			continue
		}
		var s secret
		o.decode(t, &s)
		if len(s.Data) > 0 {
			t.Errorf("Secret %s: use stringData with visible placeholders, not base64 data", o.Metadata.Name)
		}
		for k, v := range s.StringData {
			if !strings.Contains(v, "REPLACE_ME") {
				t.Errorf("Secret %s key %s: value is not a REPLACE_ME placeholder", o.Metadata.Name, k)
			}
		}
	}

	// The Ingress routes only public routes to the Service; /metrics and the
	// admin API stay inside the cluster.
	if o := lookup(g.objs, "Ingress", "plugboard"); o != nil {
		var ing ingress
		o.decode(t, &ing)
		for _, r := range ing.Spec.Rules {
			if u := g.flag(t, "public-url"); u != "https://"+r.Host {
				t.Errorf("Ingress host %s is not --public-url %s", r.Host, u)
			}
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				isPort := func(sp servicePort) bool {
					return sp.Name != "" && sp.Name == b.Port.Name || b.Port.Number != 0 && sp.Port == b.Port.Number
				}
				if b.Name != "plugboard" || !slices.ContainsFunc(svc.Spec.Ports, isPort) {
					t.Errorf("Ingress path %s: backend %+v is not a port of Service plugboard", p.Path, b)
				}
				for _, private := range []string{"/metrics", "/admin/v1/integrations", "/admin/v1/reload"} {
					if prefixMatches(p.Path, p.PathType, private) {
						t.Errorf("Ingress path %s (%s) exposes %s", p.Path, p.PathType, private)
					}
				}
			}
		}
	}
}

// prefixMatches is Kubernetes' Ingress path matching: Exact, or Prefix by
// whole path elements.
func prefixMatches(path, pathType, request string) bool {
	if pathType == "Exact" {
		return path == request
	}
	path = strings.TrimRight(path, "/")
	return path == "" || request == path || strings.HasPrefix(request, path+"/")
}

func isTrue(b *bool) bool { return b != nil && *b }

// TestManifestsConfigMap loads the ConfigMap mounted at --manifests with the
// real loader, checks that its manifests are the repository's own, and that
// every secret they refer to is in the gateway's environment.
func TestManifestsConfigMap(t *testing.T) {
	g := loadGateway(t)
	dir := g.flag(t, "manifests")
	m, v := g.mountFor(dir)
	if m == nil || v == nil || v.ConfigMap == nil {
		t.Fatalf("--manifests=%s is not a ConfigMap volume mount", dir)
	}
	if m.SubPath != "" {
		t.Errorf("--manifests mount uses subPath %q: subPath mounts never update, so hot reload would not work", m.SubPath)
	}
	files := g.configMapFiles(t, v)

	// The folder as the pod sees it.
	tmp := t.TempDir()
	var manifests []string
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if manifest.IsManifestFile(name) {
			manifests = append(manifests, filepath.Join(tmp, name))
		}
		// The example shows real manifests: they must not drift from the
		// repository's.
		real, err := os.ReadFile(filepath.Join(repoRoot(t), "integrations.d", name))
		switch {
		case err != nil:
			t.Errorf("ConfigMap %s: %s is not a file of integrations.d", v.ConfigMap.Name, name)
		case string(real) != data:
			t.Errorf("ConfigMap %s: %s differs from integrations.d/%s; regenerate it (see the comment in its file)", v.ConfigMap.Name, name, name)
		}
	}
	slices.Sort(manifests)
	if len(manifests) < 2 {
		t.Fatalf("ConfigMap %s has %d manifests, want at least 2", v.ConfigMap.Name, len(manifests))
	}

	// As `plugboard validate --strict` loads them: secrets unresolved.
	res := manifest.LoadFiles(manifests, manifest.Options{})
	if ps := res.Problems(); ps.HasErrors(true) {
		t.Fatalf("manifests in ConfigMap %s are not valid:\n%v", v.ConfigMap.Name, ps)
	}
	if n := len(res.Integrations()); n != len(manifests) {
		t.Fatalf("%d integrations from %d manifests", n, len(manifests))
	}

	// As the gateway loads them in production: every reference read. Record
	// which variables and files that reads (LoadFiles parses in parallel).
	var mu sync.Mutex
	envRefs, fileRefs := map[string]bool{}, map[string]bool{}
	res = manifest.LoadFiles(manifests, manifest.Options{ResolveSecrets: true, Secrets: manifest.SecretResolver{
		LookupEnv: func(name string) (string, bool) {
			mu.Lock()
			defer mu.Unlock()
			envRefs[name] = true
			return "placeholder-" + name, true
		},
		ReadFile: func(path string) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			fileRefs[path] = true
			return []byte("placeholder"), nil
		},
	}})
	if ps := res.Problems(); ps.HasErrors(false) {
		t.Fatalf("manifests with their secrets resolved:\n%v", ps)
	}
	if len(envRefs) == 0 {
		t.Error("the example manifests refer to no ${NAME} secret: show one")
	}
	for _, name := range slices.Sorted(maps.Keys(envRefs)) {
		if _, ok := g.env[name]; !ok {
			t.Errorf("a manifest refers to ${%s}, which the Deployment does not set: production would reject it", name)
		}
	}
	for path := range fileRefs {
		if !filepath.IsAbs(path) || strings.HasPrefix(path, tmp) || !g.under(path) {
			t.Errorf("a manifest reads the secret file %s, which is not in a mounted Secret", path)
		}
	}
}

// TestDeploymentStartsGateway starts the built binary with the Deployment's
// exact args and environment (mounted volumes as folders, Secrets with test
// values, SQLite standing in for PostgreSQL, a free loopback port), checks
// its probes' routes, the admin API and the catalog metric, updates the
// manifests ConfigMap as the kubelet does and waits for the reload, and
// checks that SIGTERM stops it cleanly. It also checks that the Secrets'
// placeholders are refused.
func TestDeploymentStartsGateway(t *testing.T) {
	g := loadGateway(t)
	tmp := t.TempDir()

	// Each volume mount becomes a folder; ConfigMaps are written out.
	mounts := map[string]string{} // mountPath → folder
	for i, m := range g.container.VolumeMounts {
		host := filepath.Join(tmp, fmt.Sprintf("vol%d-%s", i, m.Name))
		if err := os.MkdirAll(host, 0o755); err != nil {
			t.Fatal(err)
		}
		mounts[m.MountPath] = host
		_, v := g.mountFor(m.MountPath)
		if v != nil && v.ConfigMap != nil {
			writeConfigMapVolume(t, host, g.configMapFiles(t, v), 1)
		}
	}
	// local maps the pod's paths to the folders, in one pass (the folders
	// may themselves be under a mount path such as /tmp), longest mount
	// path first.
	var pairs []string
	for _, p := range slices.SortedFunc(maps.Keys(mounts), func(a, b string) int { return len(b) - len(a) }) {
		pairs = append(pairs, p, mounts[p])
	}
	local := strings.NewReplacer(pairs...).Replace

	// Real keys for the test: a signing key pair (its public key replaces
	// the placeholder project keys) and an encryption key.
	keysDir := filepath.Join(tmp, "keys")
	out, stderr, code := run(t, tmp, baseEnv(tmp), "keys", "generate", "--out", keysDir)
	if code != 0 {
		t.Fatalf("keys generate: exit %d\n%s", code, stderr)
	}
	encKey := ""
	keyLine := regexp.MustCompile(`^[^\s:]+:[A-Za-z0-9+/]+=*$`) // kid:base64key
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if keyLine.MatchString(line) {
			encKey = line
		}
	}
	if encKey == "" {
		t.Fatalf("keys generate printed no encryption key:\n%s", out)
	}
	pub, err := os.ReadFile(filepath.Join(keysDir, "signing-key.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range g.projectKeys(t) {
		if err := os.WriteFile(local(k), pub, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	adminToken := "test-admin-token-0123456789abcdef"
	testEnv := func(placeholders bool) []string {
		env := baseEnv(tmp)
		for _, name := range slices.Sorted(maps.Keys(g.env)) {
			src := g.env[name]
			var value string
			switch {
			case src.Literal != nil:
				value = local(*src.Literal)
			case src.FromResource:
				continue
			case placeholders && src.Secret != "":
				var s secret
				find(t, g.objs, "Secret", src.Secret).decode(t, &s)
				value = s.StringData[src.Key]
			case name == envName("store"):
				value = filepath.Join(tmp, "plugboard.db") // PostgreSQL's stand-in
			case name == envName("admin-token"):
				value = adminToken
			case name == "PLUGBOARD_ENCRYPTION_KEYS":
				value = encKey
			default:
				value = "test-value-" + name
			}
			env = append(env, name+"="+value)
		}
		return env
	}
	args := make([]string, len(g.container.Args))
	for i, a := range g.container.Args {
		args[i] = local(a)
	}

	t.Run("placeholders fail closed", func(t *testing.T) {
		_, stderr, code := run(t, tmp, testEnv(true), append(args, "--listen=127.0.0.1:0")...)
		if code == 0 {
			t.Fatalf("the gateway started with the Secrets' placeholder values\n%s", stderr)
		}
		t.Logf("refused: %s", strings.TrimSpace(stderr))
	})

	cmd := exec.Command(testfix.Plugboard(t), append(args, "--listen=127.0.0.1:0")...)
	cmd.Dir, cmd.Env = tmp, testEnv(false)
	gw := testfix.Start(t, cmd)
	base := "http://" + gw.Listening()

	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []*probe{g.container.ReadinessProbe, g.container.LivenessProbe} {
		if code, body := get(p.HTTPGet.Path, ""); code != http.StatusOK {
			t.Errorf("GET %s = %d %s", p.HTTPGet.Path, code, body)
		}
	}
	code, body := get("/admin/v1/integrations", adminToken)
	var admin struct {
		Revision string `json:"revision"`
		Files    []struct {
			File, Status string
		} `json:"files"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &admin) != nil || admin.Revision == "" {
		t.Fatalf("GET /admin/v1/integrations = %d %s", code, body)
	}
	_, mv := g.mountFor(g.flag(t, "manifests"))
	want := 0
	for name := range g.configMapFiles(t, mv) {
		if manifest.IsManifestFile(name) {
			want++
		}
	}
	if len(admin.Files) != want {
		t.Errorf("admin API lists %d files, want %d", len(admin.Files), want)
	}
	for _, f := range admin.Files {
		if f.Status != "ok" {
			t.Errorf("%s: status %s (a secret the Deployment does not set?)\n%s", f.File, f.Status, body)
		}
	}
	if _, metrics := get("/metrics", ""); !strings.Contains(metrics, `plugboard_catalog_info{revision="`+admin.Revision+`"} 1`) {
		t.Errorf("/metrics has no plugboard_catalog_info for revision %s", admin.Revision)
	}

	// Hot reload: update the manifests volume as the kubelet does, and
	// wait for a new revision with every file still ok.
	manifestsDir := local(g.flag(t, "manifests"))
	files := g.configMapFiles(t, mv)
	changed := ""
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if manifest.IsManifestFile(name) {
			changed = name
			files[name] = strings.Replace(files[name], "\ndescription: ", "\ndescription: Updated. ", 1)
			break
		}
	}
	writeConfigMapVolume(t, manifestsDir, files, 2)
	var now struct {
		Revision string `json:"revision"`
		Files    []struct{ File, Status string }
	}
	testfix.EventuallySaw(t, "a reload after the ConfigMap's ..data swap (changed "+changed+")", func() (bool, string) {
		_, body := get("/admin/v1/integrations", adminToken)
		_ = json.Unmarshal([]byte(body), &now)
		return now.Revision != admin.Revision, body + "\n" + gw.Stderr.String()
	})
	for _, f := range now.Files {
		if f.Status != "ok" {
			t.Errorf("after the ConfigMap update, %s: status %s", f.File, f.Status)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := gw.Wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM with no request in flight:\n%s", code, gw.Stderr)
	}
}

// writeConfigMapVolume lays files out in dir as the kubelet does for a
// ConfigMap volume: the files in a timestamped folder, an ..data symlink to
// it, and one symlink per file through ..data. Writing generation 2 over 1
// swaps ..data atomically, as a ConfigMap update does.
func writeConfigMapVolume(t *testing.T, dir string, files map[string]string, generation int) {
	t.Helper()
	ts := fmt.Sprintf("..2026_01_01_00_00_%02d.%d", generation, generation)
	if err := os.MkdirAll(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, ts, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Symlink(ts, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}
