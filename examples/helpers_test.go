// Package examples holds deployment and usage examples: docker/ (the
// container image and a compose file with PostgreSQL), kubernetes/ (plain
// manifests for several replicas on PostgreSQL), ci/ (a GitHub Actions
// workflow running `plugboard validate`) and sdk-app/.
//
// Its tests check the examples against the real thing, so they cannot drift
// from the gateway they deploy: flags and environment variables against
// `plugboard serve --help` of a freshly built binary, manifests against the
// real loader, the Deployment by starting the gateway with its exact
// command line, the image by running its Dockerfile's go build line and
// starting its command and compose.yaml's, and the workflow by running its
// exact validate command.
package examples

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/testfix"
	"gopkg.in/yaml.v3"
)

// tmpRoot is a folder for the whole test run.
var tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plugboard-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpRoot = dir
	code := testfix.Run(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the module root: the tests run in examples/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// run runs the binary with args in dir and returns its stdout, stderr and
// exit code; it fails the test if the command cannot run or takes too long.
func run(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(testfix.Plugboard(t), args...)
	cmd.Dir = dir
	cmd.Env = env
	p := testfix.Start(t, cmd)
	code = p.Wait(20 * time.Second)
	return p.Stdout.String(), p.Stderr.String(), code
}

// baseEnv is a clean environment for the binary: no PLUGBOARD_* leaking in
// from the developer's shell.
func baseEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
}

// cliFlag is one flag as `plugboard <command> --help` prints it.
type cliFlag struct {
	Name    string
	Type    string // "string", "duration", "int", …; "" for a boolean
	Default string // "" when none is printed
}

// cli is what `plugboard <command> --help` says.
type cli struct {
	Help  string
	Flags map[string]cliFlag
}

var (
	helpMu    sync.Mutex
	helpCache = map[string]*cli{}
)

// flagLine matches a flag's line in flag.PrintDefaults' output ("  -name
// type", as help prints it with two dashes); defaultText matches the end of its usage ("(default value)").
var (
	flagLine    = regexp.MustCompile(`^  --([a-z0-9][a-z0-9-]*)(?: (\S+))?$`)
	defaultText = regexp.MustCompile(`\(default (.+)\)$`)
)

// helpOf runs `plugboard <command> --help` and parses its flags.
func helpOf(t *testing.T, command string) *cli {
	t.Helper()
	helpMu.Lock()
	defer helpMu.Unlock()
	if c, ok := helpCache[command]; ok {
		return c
	}
	stdout, stderr, code := run(t, tmpRoot, baseEnv(tmpRoot), command, "--help")
	if code != 0 {
		t.Fatalf("plugboard %s --help: exit %d\n%s", command, code, stderr)
	}
	c := &cli{Help: stdout, Flags: map[string]cliFlag{}}
	lines := strings.Split(stdout, "\n")
	for i, line := range lines {
		m := flagLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := cliFlag{Name: m[1], Type: m[2]}
		var usage []string
		for j := i + 1; j < len(lines) && strings.HasPrefix(lines[j], "    \t"); j++ {
			usage = append(usage, strings.TrimPrefix(lines[j], "    \t"))
		}
		if d := defaultText.FindStringSubmatch(strings.Join(usage, " ")); d != nil {
			f.Default = d[1]
			if s, err := strconv.Unquote(f.Default); err == nil {
				f.Default = s
			}
		}
		c.Flags[f.Name] = f
	}
	if len(c.Flags) == 0 {
		t.Fatalf("plugboard %s --help lists no flags:\n%s", command, stdout)
	}
	helpCache[command] = c
	return c
}

// envName is the environment variable of a flag, as `plugboard serve --help`
// documents it: --public-url is PLUGBOARD_PUBLIC_URL.
func envName(flagName string) string {
	return "PLUGBOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagSet is a flag.FlagSet with exactly the command's flags, typed as the
// help says, so parsing a command line rejects unknown flags and bad values.
func (c *cli) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("plugboard", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range c.Flags {
		switch f.Type {
		case "":
			fs.Bool(f.Name, false, "")
		case "duration":
			fs.Duration(f.Name, 0, "")
		case "int":
			fs.Int64(f.Name, 0, "")
		case "uint":
			fs.Uint64(f.Name, 0, "")
		case "float":
			fs.Float64(f.Name, 0, "")
		default:
			fs.String(f.Name, "", "")
		}
	}
	return fs
}

// parse parses a command line (without the command name): the flags it
// sets, with their values as the flag package prints them, and the
// positional arguments after them.
func (c *cli) parse(args []string) (set map[string]string, positional []string, err error) {
	fs := c.flagSet()
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	set = map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	return set, fs.Args(), nil
}

// parseArgs is parse for a command that takes flags only.
func (c *cli) parseArgs(args []string) (map[string]string, error) {
	set, positional, err := c.parse(args)
	if err == nil && len(positional) > 0 {
		err = fmt.Errorf("unexpected argument %q", positional[0])
	}
	return set, err
}

// ---- Kubernetes objects ----

// object is one YAML document of examples/kubernetes.
type object struct {
	File       string
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	node       *yaml.Node
}

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// decode decodes the whole document into v.
func (o *object) decode(t *testing.T, v any) {
	t.Helper()
	if err := o.node.Decode(v); err != nil {
		t.Fatalf("%s: %s %s: %v", o.File, o.Kind, o.Metadata.Name, err)
	}
}

// loadKubernetes parses every document of every YAML file in
// examples/kubernetes.
func loadKubernetes(t *testing.T) []*object {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.y*ml")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var objs []*object
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", file, i+1, err)
			}
			if len(doc.Content) == 0 {
				continue // an empty document, e.g. after a trailing ---
			}
			if doc.Content[0].Kind != yaml.MappingNode {
				t.Fatalf("%s: document %d is not a mapping", file, i+1)
			}
			o := &object{File: file, node: &doc}
			if err := doc.Decode(o); err != nil {
				t.Fatalf("%s: document %d: %v", file, i+1, err)
			}
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		t.Fatal("no objects in examples/kubernetes")
	}
	return objs
}

// find returns the only object of a kind (and name, unless empty).
func find(t *testing.T, objs []*object, kind, name string) *object {
	t.Helper()
	var found []*object
	for _, o := range objs {
		if o.Kind == kind && (name == "" || o.Metadata.Name == name) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s %q in examples/kubernetes, found %d", kind, name, len(found))
	}
	return found[0]
}

// lookup returns the object of a kind and name, or nil.
func lookup(objs []*object, kind, name string) *object {
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	return nil
}

// The parts of the Kubernetes API the tests read. Unknown fields are
// ignored: Kubernetes itself validates the rest on apply.

type deployment struct {
	Spec struct {
		Replicas *int          `yaml:"replicas"`
		Selector labelSelector `yaml:"selector"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     podSpec    `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int64 `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []envVar `yaml:"env"`
	EnvFrom []struct {
		Prefix       string   `yaml:"prefix"`
		SecretRef    *nameRef `yaml:"secretRef"`
		ConfigMapRef *nameRef `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *probe `yaml:"startupProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int64 `yaml:"seconds"`
			} `yaml:"sleep"`
			Exec *struct {
				Command []string `yaml:"command"`
			} `yaml:"exec"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []volumeMount `yaml:"volumeMounts"`
}

type nameRef struct {
	Name string `yaml:"name"`
}

type keyRef struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional *bool  `yaml:"optional"`
}

type envVar struct {
	Name      string  `yaml:"name"`
	Value     *string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef     *keyRef `yaml:"secretKeyRef"`
		ConfigMapKeyRef  *keyRef `yaml:"configMapKeyRef"`
		ResourceFieldRef *struct {
			Resource string `yaml:"resource"`
		} `yaml:"resourceFieldRef"`
		FieldRef *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name  string `yaml:"name"`
		Items []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
	} `yaml:"secret"`
	EmptyDir *struct {
		Medium    string `yaml:"medium"`
		SizeLimit string `yaml:"sizeLimit"`
	} `yaml:"emptyDir"`
}

type configMap struct {
	Data map[string]string `yaml:"data"`
}

type secret struct {
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

type service struct {
	Spec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []servicePort     `yaml:"ports"`
	} `yaml:"spec"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"` // a number or a port name
}

type selectorSpec struct {
	Spec struct {
		Selector labelSelector `yaml:"selector"`
	} `yaml:"spec"`
}

type podMonitor struct {
	Spec struct {
		Selector            labelSelector `yaml:"selector"`
		PodMetricsEndpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"podMetricsEndpoints"`
	} `yaml:"spec"`
}

type ingress struct {
	Spec struct {
		Rules []struct {
			Host string `yaml:"host"`
			HTTP struct {
				Paths []struct {
					Path     string `yaml:"path"`
					PathType string `yaml:"pathType"`
					Backend  struct {
						Service struct {
							Name string `yaml:"name"`
							Port struct {
								Name   string `yaml:"name"`
								Number int    `yaml:"number"`
							} `yaml:"port"`
						} `yaml:"service"`
					} `yaml:"backend"`
				} `yaml:"paths"`
			} `yaml:"http"`
		} `yaml:"rules"`
	} `yaml:"spec"`
}

type kustomization struct {
	Namespace string   `yaml:"namespace"`
	Resources []string `yaml:"resources"`
}

// gateway is the Deployment's gateway container with what the tests derive
// from it.
type gateway struct {
	objs       []*object
	deployment deployment
	pod        *podSpec
	container  *container
	cli        *cli
	args       map[string]string    // flags set on the command line
	env        map[string]envSource // the container's environment
}

// envSource is where one environment variable of the container comes from.
type envSource struct {
	Literal      *string // value:
	Secret, Key  string  // secretKeyRef, or a key of an envFrom Secret
	ConfigMap    string  // configMapKeyRef or envFrom ConfigMap (with Key)
	FromResource bool    // resourceFieldRef or fieldRef
}

// loadGateway finds the Deployment's gateway container and parses its
// command line with the real flags of `plugboard serve`.
func loadGateway(t *testing.T) *gateway {
	t.Helper()
	g := &gateway{objs: loadKubernetes(t), cli: helpOf(t, "serve")}
	find(t, g.objs, "Deployment", "").decode(t, &g.deployment)
	g.pod = &g.deployment.Spec.Template.Spec
	if len(g.pod.Containers) != 1 {
		t.Fatalf("want one container in the Deployment, found %d", len(g.pod.Containers))
	}
	g.container = &g.pod.Containers[0]
	c := g.container
	if len(c.Command) > 0 {
		t.Errorf("container command %q: leave the image's entrypoint (the plugboard binary) and set args only", c.Command)
	}
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("container args %q: want the serve command first", c.Args)
	}
	var err error
	if g.args, err = g.cli.parseArgs(c.Args[1:]); err != nil {
		t.Fatalf("container args %q are not a valid `plugboard serve` command line: %v", c.Args, err)
	}
	g.env = map[string]envSource{}
	// envFrom first: env entries override it, as in Kubernetes.
	for _, ef := range c.EnvFrom {
		switch {
		case ef.SecretRef != nil:
			o := lookup(g.objs, "Secret", ef.SecretRef.Name)
			if o == nil {
				t.Errorf("envFrom: Secret %q is not in examples/kubernetes", ef.SecretRef.Name)
				continue
			}
			var s secret
			o.decode(t, &s)
			for k := range s.keys() {
				g.env[ef.Prefix+k] = envSource{Secret: ef.SecretRef.Name, Key: k}
			}
		case ef.ConfigMapRef != nil:
			o := lookup(g.objs, "ConfigMap", ef.ConfigMapRef.Name)
			if o == nil {
				t.Errorf("envFrom: ConfigMap %q is not in examples/kubernetes", ef.ConfigMapRef.Name)
				continue
			}
			var cm configMap
			o.decode(t, &cm)
			for k := range cm.Data {
				g.env[ef.Prefix+k] = envSource{ConfigMap: ef.ConfigMapRef.Name, Key: k}
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.Value != nil:
			g.env[e.Name] = envSource{Literal: e.Value}
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			g.env[e.Name] = envSource{Secret: e.ValueFrom.SecretKeyRef.Name, Key: e.ValueFrom.SecretKeyRef.Key}
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			g.env[e.Name] = envSource{ConfigMap: e.ValueFrom.ConfigMapKeyRef.Name, Key: e.ValueFrom.ConfigMapKeyRef.Key}
		case e.ValueFrom != nil && (e.ValueFrom.ResourceFieldRef != nil || e.ValueFrom.FieldRef != nil):
			g.env[e.Name] = envSource{FromResource: true}
		default:
			t.Errorf("env %s has neither value nor a valueFrom the tests know", e.Name)
		}
	}
	return g
}

// keys returns a Secret's keys (data and stringData).
func (s secret) keys() map[string]bool {
	k := map[string]bool{}
	for n := range s.Data {
		k[n] = true
	}
	for n := range s.StringData {
		k[n] = true
	}
	return k
}

// flag returns the value the gateway will use for a serve flag: the command
// line, else a literal environment value, else the default in --help.
func (g *gateway) flag(t *testing.T, name string) string {
	t.Helper()
	f, ok := g.cli.Flags[name]
	if !ok {
		t.Fatalf("plugboard serve has no --%s flag", name)
	}
	if v, ok := g.args[name]; ok {
		return v
	}
	if src, ok := g.env[envName(name)]; ok {
		if src.Literal == nil {
			t.Fatalf("--%s comes from %s in a Secret or ConfigMap: the test cannot read it", name, envName(name))
		}
		return *src.Literal
	}
	return f.Default
}

// projectKeys is the effective --project-keys as a list of files.
func (g *gateway) projectKeys(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, f := range strings.Split(g.flag(t, "project-keys"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatalf("neither --project-keys nor %s is set: production needs the public keys of user tokens", envName("project-keys"))
	}
	return files
}

// duration is a duration flag's effective value.
func (g *gateway) duration(t *testing.T, name string) time.Duration {
	t.Helper()
	v := g.flag(t, name)
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("--%s=%q: %v", name, v, err)
	}
	return d
}

// containerPort resolves a probe's or Service's port (a number or a port
// name) to the container's port number, or 0.
func (g *gateway) containerPort(port any) int {
	for _, p := range g.container.Ports {
		switch v := port.(type) {
		case int:
			if p.ContainerPort == v {
				return v
			}
		case string:
			if p.Name == v {
				return p.ContainerPort
			}
		}
	}
	return 0
}

// mountFor returns the volume mount whose path is dir, with its volume.
func (g *gateway) mountFor(dir string) (*volumeMount, *volume) {
	dir = filepath.Clean(dir)
	for i := range g.container.VolumeMounts {
		m := &g.container.VolumeMounts[i]
		if filepath.Clean(m.MountPath) != dir {
			continue
		}
		for j := range g.pod.Volumes {
			if g.pod.Volumes[j].Name == m.Name {
				return m, &g.pod.Volumes[j]
			}
		}
		return m, nil
	}
	return nil, nil
}

// under reports whether path is inside one of the container's volume mounts.
func (g *gateway) under(path string) bool {
	for _, m := range g.container.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, path)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

// configMapFiles returns the files a configMap volume shows, by name.
func (g *gateway) configMapFiles(t *testing.T, v *volume) map[string]string {
	t.Helper()
	o := lookup(g.objs, "ConfigMap", v.ConfigMap.Name)
	if o == nil {
		t.Fatalf("volume %s: ConfigMap %q is not in examples/kubernetes", v.Name, v.ConfigMap.Name)
	}
	var cm configMap
	o.decode(t, &cm)
	if len(v.ConfigMap.Items) == 0 {
		return cm.Data
	}
	files := map[string]string{}
	for _, it := range v.ConfigMap.Items {
		data, ok := cm.Data[it.Key]
		if !ok {
			t.Fatalf("volume %s: ConfigMap %s has no key %q", v.Name, v.ConfigMap.Name, it.Key)
		}
		files[it.Path] = data
	}
	return files
}
