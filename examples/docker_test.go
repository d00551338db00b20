package examples

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/testfix"
	"gopkg.in/yaml.v3"
)

// No Docker engine runs the tests: they check what can be checked without
// one. The Dockerfile is parsed (a small parser for the instructions it
// uses), its `go build` line is run as written, and the image's default
// command and compose.yaml's gateway are started as processes with their
// exact flags and environment, paths and ports mapped to the test's.

const dockerfilePath = "docker/Dockerfile"

// Build arguments the test gives the Dockerfile, as `docker build
// --build-arg` and BuildKit's automatic platform arguments would.
var dockerBuildArgs = map[string]string{
	"VERSION":    "v0.0.0-dockertest",
	"REVISION":   "0123456789abcdef",
	"TARGETOS":   runtime.GOOS,
	"TARGETARCH": runtime.GOARCH,
}

// TestDockerfile checks the image's structure: a builder on the Go version
// of go.mod, a minimal final stage running as a numeric non-root user, no
// HEALTHCHECK, the OCI labels, and a default command that `plugboard serve`
// accepts, whose ports, data folder and manifest folder the image provides.
func TestDockerfile(t *testing.T) {
	df := parseDockerfile(t, dockerfilePath)
	if len(df.Stages) < 2 {
		t.Fatalf("%d stage(s): want a builder and a final stage", len(df.Stages))
	}
	builder, final := df.builder(t), df.final()

	goVersion := goModVersion(t)
	if !strings.HasPrefix(builder.Image, "golang:"+goVersion+"-") && builder.Image != "golang:"+goVersion {
		t.Errorf("builder image %s: want golang:%s (go.mod's go version)", builder.Image, goVersion)
	}
	if final.Image != "scratch" && !strings.HasPrefix(final.Image, "gcr.io/distroless/static") {
		t.Errorf("final image %s: want distroless static or scratch (a static binary needs nothing else)", final.Image)
	}
	for _, s := range df.Stages {
		for _, in := range s.Instrs {
			if in.Cmd == "HEALTHCHECK" {
				t.Errorf("line %d: HEALTHCHECK: probes check health (Kubernetes ignores it, and the image has no shell)", in.Line)
			}
		}
	}

	// The final stage's user is numeric (Kubernetes' runAsNonRoot can
	// verify only a numeric user) and not root.
	users := final.all("USER")
	if len(users) == 0 {
		t.Fatal("the final stage sets no USER: it would run as root")
	}
	user := users[len(users)-1].Args
	uid, gid, hasGID := strings.Cut(user, ":")
	ids := []string{uid}
	if hasGID {
		ids = append(ids, gid)
	}
	for _, id := range ids {
		if n, err := strconv.Atoi(id); err != nil || n == 0 {
			t.Errorf("USER %s: want a numeric, non-root uid[:gid]", user)
		}
	}

	labels := map[string]string{}
	for _, in := range final.all("LABEL") {
		words := shellWords(t, in.Args, df.vars(final, dockerBuildArgs))
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				t.Fatalf("line %d: LABEL %q is not key=value", in.Line, w)
			}
			labels[k] = v
		}
	}
	for _, k := range []string{"title", "description", "source", "licenses", "version"} {
		if labels["org.opencontainers.image."+k] == "" {
			t.Errorf("no label org.opencontainers.image.%s", k)
		}
	}
	if v := labels["org.opencontainers.image.version"]; v != dockerBuildArgs["VERSION"] {
		t.Errorf("label version %q: want the VERSION build argument %q", v, dockerBuildArgs["VERSION"])
	}
	if l := labels["org.opencontainers.image.licenses"]; l != "Apache-2.0" {
		t.Errorf("label licenses %q: want Apache-2.0", l)
	}
	lic, err := os.ReadFile(filepath.Join(repoRoot(t), "LICENSE"))
	if err != nil || !strings.Contains(string(lic), "Apache License\n                           Version 2.0, January 2004") {
		t.Errorf("LICENSE is not the Apache License 2.0 the label names (%v)", err)
	}

	// ENTRYPOINT is the binary the builder built, copied from it.
	entry := final.execForm(t, "ENTRYPOINT")
	if len(entry) != 1 {
		t.Fatalf("ENTRYPOINT %q: want the plugboard binary alone (commands and flags are CMD's, or Kubernetes' args)", entry)
	}
	out := df.goBuild(t).Output
	copied := false
	for _, c := range final.copies(t) {
		if c.From == builder.Name && c.Src == out && (c.Dest == entry[0] || strings.HasSuffix(c.Dest, "/") && c.Dest+filepath.Base(out) == entry[0]) {
			copied = true
		}
	}
	if !copied {
		t.Errorf("ENTRYPOINT %s is not the builder's %s (COPY --from=%s %s %s)", entry[0], out, builder.Name, out, entry[0])
	}

	// CMD is a valid serve command line.
	cmd := final.execForm(t, "CMD")
	if len(cmd) == 0 || cmd[0] != "serve" {
		t.Fatalf("CMD %q: want serve first", cmd)
	}
	set, err := helpOf(t, "serve").parseArgs(cmd[1:])
	if err != nil {
		t.Fatalf("CMD %q is not a valid `plugboard serve` command line: %v", cmd, err)
	}
	if set["mode"] != "production" {
		t.Errorf("CMD --mode=%q: want production, explicit", set["mode"])
	}
	for _, name := range []string{"listen", "manifests", "data"} {
		if set[name] == "" {
			t.Errorf("CMD does not set --%s", name)
		}
	}
	if host, _, _ := net.SplitHostPort(set["listen"]); host != "0.0.0.0" && host != "" && host != "::" {
		t.Errorf("CMD --listen=%s: a container must listen on every interface", set["listen"])
	}

	// EXPOSE lists exactly the ports the command listens on.
	var exposed, listened []string
	for _, in := range final.all("EXPOSE") {
		for _, p := range strings.Fields(in.Args) {
			exposed = append(exposed, strings.TrimSuffix(p, "/tcp"))
		}
	}
	for _, name := range []string{"listen", "admin-listen"} {
		if a := set[name]; a != "" {
			_, port, err := net.SplitHostPort(a)
			if err != nil {
				t.Fatalf("CMD --%s=%s: %v", name, a, err)
			}
			listened = append(listened, port)
		}
	}
	slices.Sort(exposed)
	slices.Sort(listened)
	if !slices.Equal(exposed, listened) {
		t.Errorf("EXPOSE %v: want the ports of --listen and --admin-listen %v", exposed, listened)
	}

	// The data folder is a volume the user owns (the image has no shell to
	// create it at run time); the manifest folder exists.
	var volumes []string
	for _, in := range final.all("VOLUME") {
		if v, err := jsonArray(in.Args); err == nil {
			volumes = append(volumes, v...)
		} else {
			volumes = append(volumes, strings.Fields(in.Args)...)
		}
	}
	if !slices.Contains(volumes, set["data"]) {
		t.Errorf("--data=%s is not a VOLUME (%v)", set["data"], volumes)
	}
	var dataOwner string
	created := map[string]bool{}
	for _, c := range final.copies(t) {
		created[c.Dest] = true
		if c.Dest == set["data"] {
			dataOwner = c.Chown
		}
	}
	if owner, _, _ := strings.Cut(dataOwner, ":"); owner != uid {
		t.Errorf("--data=%s: COPY --chown=%q, want it owned by the USER %s, so that a volume there is writable", set["data"], dataOwner, user)
	}
	if !created[set["manifests"]] {
		t.Errorf("--manifests=%s: the image does not create it", set["manifests"])
	}
}

// TestDockerBinaryIsStatic runs the Dockerfile's `go build` line as written
// (its environment, flags and package, for this machine's platform) and
// checks that the binary is statically linked, so that it runs on
// distroless static or scratch, and that -ldflags -X reaches the version
// `plugboard version` prints.
func TestDockerBinaryIsStatic(t *testing.T) {
	bin := dockerBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read only
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a PT_INTERP program header: it needs a dynamic loader (cgo?)")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}

	out, stderr, code := runBinary(t, bin, t.TempDir(), nil, "version")
	if code != 0 || !strings.HasPrefix(out, "plugboard "+dockerBuildArgs["VERSION"]+"\n") {
		t.Errorf("plugboard version: exit %d, %q %s: want the VERSION build argument %s (the -X in -ldflags names main.version?)", code, out, stderr, dockerBuildArgs["VERSION"])
	}
}

// TestDockerImageCommand starts the Dockerfile's binary with the image's
// ENTRYPOINT and CMD as the container would run them: without secrets it
// must refuse, naming each; with an admin token, an encryption key and a
// project key in the environment it must serve /readyz on --listen and
// /metrics on --admin-listen. (Running the command with --help would prove
// nothing: plugboard answers --help before it parses the other flags.)
func TestDockerImageCommand(t *testing.T) {
	df := parseDockerfile(t, dockerfilePath)
	cmd := df.final().execForm(t, "CMD")
	bin := dockerBinary(t)
	tmp := t.TempDir()

	// The image's folders become the test's, its ports free loopback ports.
	ports := map[string]string{}
	args := slices.Clone(cmd)
	for i, a := range args {
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok || !strings.HasPrefix(a, "-") {
			continue
		}
		switch name {
		case "listen", "admin-listen":
			ports[name] = freeAddr(t)
			value = ports[name]
		case "manifests", "data":
			value = filepath.Join(tmp, filepath.Base(value))
			if err := os.MkdirAll(value, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		args[i] = "--" + name + "=" + value
	}

	_, stderr, code := runBinary(t, bin, tmp, baseEnv(tmp), args...)
	if code == 0 {
		t.Fatal("the image's command started without secrets")
	}
	for _, v := range []string{"PLUGBOARD_ADMIN_TOKEN", "PLUGBOARD_ENCRYPTION_KEYS", "PLUGBOARD_PROJECT_KEYS"} {
		if !strings.Contains(stderr, v) {
			t.Errorf("without secrets, the refusal does not name %s:\n%s", v, stderr)
		}
	}

	keys := generateKeys(t, bin, tmp)
	env := append(baseEnv(tmp),
		"PLUGBOARD_ADMIN_TOKEN=test-admin-token-0123456789abcdef",
		"PLUGBOARD_ENCRYPTION_KEYS="+keys.encryption,
		"PLUGBOARD_PROJECT_KEYS="+keys.public,
	)
	gw := startGateway(t, bin, tmp, env, args)
	getOK(t, "http://"+ports["listen"]+"/readyz", "")
	if a := ports["admin-listen"]; a != "" {
		getOK(t, "http://"+a+"/metrics", "")
		if code, _ := get(t, "http://"+ports["listen"]+"/metrics", ""); code == http.StatusOK {
			t.Error("/metrics is served on --listen although --admin-listen is set")
		}
	}
	gw.stop(t)
}

// TestDockerCompose checks compose.yaml: a PostgreSQL service with a
// health check, and the gateway built from the Dockerfile, depending on
// it, with a valid `plugboard serve` command line and only variables
// `plugboard serve` reads, its secrets from files, its ports published (the
// admin port on loopback only), the repository's manifests mounted
// read-only, and time to drain on stop. Then it starts the binary with the
// gateway's exact command line and environment (secrets written as
// README.md writes them, SQLite standing in for PostgreSQL unless
// PLUGBOARD_TEST_POSTGRES is set) and runs README.md's smoke test.
func TestDockerCompose(t *testing.T) {
	c := loadCompose(t)
	db, gwName := "", ""
	for name, s := range c.Services {
		if s.Build != nil && filepath.ToSlash(s.Build.Dockerfile) == "examples/docker/Dockerfile" {
			gwName = name
		}
		if strings.HasPrefix(s.Image, "postgres:") {
			db = name
		}
	}
	if gwName == "" || db == "" {
		t.Fatalf("compose.yaml: want a service built from examples/docker/Dockerfile and a postgres: service (%v)", c.Services)
	}
	g, pg := c.Services[gwName], c.Services[db]
	if ctx, err := filepath.Abs(filepath.Join("docker", g.Build.Context)); err != nil || ctx != repoRoot(t) {
		t.Errorf("%s build context %s: want the repository root (the Dockerfile's context)", gwName, g.Build.Context)
	}
	if pg.Healthcheck == nil || len(pg.Healthcheck.Test) < 2 || !slices.Contains(pg.Healthcheck.Test, "pg_isready") {
		t.Errorf("%s: want a pg_isready health check", db)
	}
	if d, ok := g.DependsOn[db]; !ok || d.Condition != "service_healthy" {
		t.Errorf("%s depends_on %s: %+v, want condition service_healthy", gwName, db, g.DependsOn)
	}
	if img := interpolate(g.Image); !slices.Contains(dockerReadmeImages(t), img) {
		t.Errorf("%s image %s is not the image docker/README.md builds %v", gwName, img, dockerReadmeImages(t))
	}

	// The command line and the environment, against `plugboard serve --help`.
	serve := helpOf(t, "serve")
	if len(g.Command) == 0 || g.Command[0] != "serve" {
		t.Fatalf("%s command %q: want serve first", gwName, g.Command)
	}
	args, err := serve.parseArgs(g.Command[1:])
	if err != nil {
		t.Fatalf("%s command %q is not a valid `plugboard serve` command line: %v", gwName, g.Command, err)
	}
	if args["mode"] != "production" {
		t.Errorf("--mode=%q: want production", args["mode"])
	}
	if _, ok := args["store"]; ok {
		t.Error("--store on the command line shows the database password in `docker inspect` and ps: use PLUGBOARD_STORE_FILE")
	}
	flagOf := map[string]string{}
	for name := range serve.Flags {
		flagOf[envName(name)] = name
	}
	helpVars := map[string]bool{}
	for _, v := range regexp.MustCompile(`PLUGBOARD_[A-Z0-9_]+`).FindAllString(serve.Help, -1) {
		helpVars[v] = true
	}
	for name := range g.Environment {
		if !strings.HasPrefix(name, "PLUGBOARD_") {
			continue
		}
		base := strings.TrimSuffix(name, "_FILE")
		f, isFlag := flagOf[base]
		switch {
		case isFlag:
			if _, onCommandLine := args[f]; onCommandLine {
				t.Errorf("%s and --%s are both set: the command line wins", name, f)
			}
		case !helpVars[base]:
			t.Errorf("environment %s is neither a serve flag's variable nor named in `plugboard serve --help`", name)
		}
	}

	// Secrets come from files: the store (it holds the database password),
	// the admin token and the encryption keys.
	secretFile := func(svc composeService, variable string) string {
		t.Helper()
		path := svc.Environment[variable]
		name, ok := strings.CutPrefix(path, "/run/secrets/")
		if !ok || !slices.Contains(svc.Secrets, name) {
			t.Errorf("%s=%q: want /run/secrets/NAME of a secret the service lists", variable, path)
			return ""
		}
		s, ok := c.Secrets[name]
		if !ok || s.File == "" {
			t.Errorf("secret %s: no file", name)
			return ""
		}
		return s.File
	}
	files := map[string]string{} // variable → the secret's file, relative to examples/docker
	for _, v := range []string{"PLUGBOARD_STORE_FILE", "PLUGBOARD_ADMIN_TOKEN_FILE", "PLUGBOARD_ENCRYPTION_KEYS_FILE"} {
		files[v] = secretFile(g, v)
		if _, plain := g.Environment[strings.TrimSuffix(v, "_FILE")]; plain {
			t.Errorf("%s is set in compose.yaml itself", strings.TrimSuffix(v, "_FILE"))
		}
	}
	pgPassword := secretFile(pg, "POSTGRES_PASSWORD_FILE")
	ignored := gitignored(t, "docker/.gitignore")
	for _, f := range []string{files["PLUGBOARD_STORE_FILE"], files["PLUGBOARD_ADMIN_TOKEN_FILE"], files["PLUGBOARD_ENCRYPTION_KEYS_FILE"], pgPassword} {
		if f != "" && !ignored(f) {
			t.Errorf("secret file %s is not git-ignored by docker/.gitignore", f)
		}
	}

	// Ports: the public one published, the admin one on loopback only.
	published := map[string]string{} // container port → host address
	for _, p := range g.Ports {
		parts := strings.Split(p, ":")
		host := "0.0.0.0"
		if len(parts) == 3 {
			host = parts[0]
		}
		published[parts[len(parts)-1]] = host
	}
	_, listenPort, _ := net.SplitHostPort(args["listen"])
	if _, ok := published[listenPort]; !ok {
		t.Errorf("--listen port %s is not published (%v)", listenPort, g.Ports)
	}
	if a := args["admin-listen"]; a != "" {
		_, adminPort, _ := net.SplitHostPort(a)
		if host, ok := published[adminPort]; ok && host != "127.0.0.1" {
			t.Errorf("the admin port %s is published on %s: the admin API and metrics must not reach the network", adminPort, host)
		}
	}

	// Mounts: the repository's manifests at --manifests, read-only; the
	// project keys and the data folder exist.
	mounts := map[string]string{} // container path → host path (relative to examples/docker) or volume
	for _, v := range g.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			t.Fatalf("volume %q: want SOURCE:TARGET[:ro]", v)
		}
		mounts[parts[1]] = parts[0]
		if parts[1] == args["manifests"] {
			if len(parts) < 3 || parts[2] != "ro" {
				t.Errorf("the manifests mount %q is not read-only", v)
			}
			if abs, _ := filepath.Abs(filepath.Join("docker", parts[0])); abs != filepath.Join(repoRoot(t), "integrations.d") {
				t.Errorf("the manifests mount %q is not the repository's integrations.d", v)
			}
		}
	}
	if g.Environment["PLUGBOARD_PROJECT_KEYS"] == "" {
		t.Error("PLUGBOARD_PROJECT_KEYS is not set: production needs the public key of user tokens")
	}
	for _, path := range []string{args["manifests"], args["data"], g.Environment["PLUGBOARD_PROJECT_KEYS"]} {
		if _, ok := mounts[path]; !ok && path != "" {
			t.Errorf("%s is not mounted (%v)", path, g.Volumes)
		}
	}

	// Docker's stop timeout outlasts the gateway's drain.
	grace := serve.Flags["shutdown-grace"].Default
	if v, ok := args["shutdown-grace"]; ok {
		grace = v
	}
	sg, err1 := time.ParseDuration(grace)
	stop, err2 := time.ParseDuration(g.StopGracePeriod)
	if err1 != nil || err2 != nil || stop <= sg {
		t.Errorf("stop_grace_period %q must exceed --shutdown-grace %q (Docker's default is 10 s)", g.StopGracePeriod, grace)
	}

	// Start the binary as compose would: the secrets as README.md writes
	// them, the mounts as folders.
	bin := dockerBinary(t)
	tmp := t.TempDir()
	keys := generateKeys(t, bin, tmp)
	adminToken := "test-admin-token-0123456789abcdef"
	store := filepath.Join(tmp, "plugboard.db") // PostgreSQL's stand-in
	if pgURL := os.Getenv("PLUGBOARD_TEST_POSTGRES"); pgURL != "" {
		store = pgURL
	}
	secretValues := map[string]string{
		"PLUGBOARD_STORE_FILE":           store,
		"PLUGBOARD_ADMIN_TOKEN_FILE":     adminToken,
		"PLUGBOARD_ENCRYPTION_KEYS_FILE": keys.encryption,
	}
	local := map[string]string{ // container path → test path
		args["manifests"]:                       filepath.Join(repoRoot(t), "integrations.d"),
		args["data"]:                            filepath.Join(tmp, "data"),
		g.Environment["PLUGBOARD_PROJECT_KEYS"]: keys.public,
	}
	if err := os.MkdirAll(local[args["data"]], 0o755); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(tmp)
	for name, value := range g.Environment {
		if v, ok := secretValues[name]; ok {
			value = filepath.Join(tmp, "secret-"+name)
			if err := os.WriteFile(value, []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if p, ok := local[value]; ok {
			value = p
		}
		env = append(env, name+"="+value)
	}
	publicAddr, adminAddr := freeAddr(t), freeAddr(t)
	var cmdline []string
	for _, a := range g.Command {
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if ok && strings.HasPrefix(a, "-") {
			switch {
			case name == "listen":
				value = publicAddr
			case name == "admin-listen":
				value = adminAddr
			case local[value] != "":
				value = local[value]
			}
			a = "--" + name + "=" + value
		}
		cmdline = append(cmdline, a)
	}
	gw := startGateway(t, bin, tmp, env, cmdline)

	// README.md's smoke test.
	public, admin := "http://"+publicAddr, "http://"+adminAddr
	if args["admin-listen"] == "" {
		admin = public
	}
	getOK(t, public+"/readyz", "")
	var catalog struct {
		Integrations []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(getOK(t, public+"/v1/integrations", "")), &catalog); err != nil {
		t.Fatal(err)
	}
	// Without integrations.env the API-key, basic and client-credentials
	// integrations are served, as README.md says.
	for _, id := range []string{"stripe", "mailchimp", "onesignal", "jira", "zoom"} {
		if !slices.ContainsFunc(catalog.Integrations, func(i struct{ ID string }) bool { return i.ID == id }) {
			t.Errorf("the public catalog lacks %s:\n%+v", id, catalog)
		}
	}
	getOK(t, admin+"/admin/v1/integrations", adminToken)
	if m := getOK(t, admin+"/metrics", ""); !strings.Contains(m, "plugboard_catalog_info{") {
		t.Error("/metrics has no plugboard_catalog_info")
	}
	token, stderr, code := runBinary(t, bin, tmp, baseEnv(tmp), "token", "--key", keys.private, "--project", args["project"], "--user", "alice")
	if code != 0 {
		t.Fatalf("plugboard token: exit %d %s", code, stderr)
	}
	getOK(t, public+"/projects/"+args["project"]+"/sdk/me", strings.TrimSpace(token))
	gw.stop(t)
}

// TestDockerReadme checks docker/README.md's setup against what
// compose.yaml reads: every secret file it mounts is written by the setup
// commands, and the key pair is generated where the project key is mounted
// from.
func TestDockerReadme(t *testing.T) {
	b, err := os.ReadFile("docker/README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	c := loadCompose(t)
	for name, s := range c.Secrets {
		if !strings.Contains(readme, "> "+strings.TrimPrefix(s.File, "./")) {
			t.Errorf("README.md's setup writes no %s (secret %s)", s.File, name)
		}
	}
	// The store URL it writes names the database service, user and database.
	for name, s := range c.Services {
		if !strings.HasPrefix(s.Image, "postgres:") {
			continue
		}
		want := fmt.Sprintf("postgres://%s:%%s@%s:5432/%s?", s.Environment["POSTGRES_USER"], name, s.Environment["POSTGRES_DB"])
		if !strings.Contains(readme, want) {
			t.Errorf("README.md's store URL is not %s… (compose.yaml's %s service)", want, name)
		}
	}
	for _, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./keys/") && !strings.Contains(readme, "keys generate --out keys") {
				t.Errorf("compose.yaml mounts %s, which README.md's setup does not generate", src)
			}
		}
	}
	if !regexp.MustCompile(`(?m)^docker build -f examples/docker/Dockerfile .* \.$`).MatchString(readme) {
		t.Error("README.md's build command is not `docker build -f examples/docker/Dockerfile … .` from the repository root")
	}
}

// TestReadmeInstall checks the top-level README's install section: the
// image is built as docker/README.md builds it, and the release binary as
// the Dockerfile builds it (CGO_ENABLED=0, -trimpath, the version by -X).
func TestReadmeInstall(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, want := range []string{
		"go install github.com/plugboardhq/plugboard/cmd/plugboard@latest",
		"docker build -f examples/docker/Dockerfile -t " + dockerReadmeImages(t)[0] + " .",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
	m := regexp.MustCompile(`(?m)^\s*CGO_ENABLED=0 go build (.*) ./cmd/plugboard$`).FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no `CGO_ENABLED=0 go build … ./cmd/plugboard` line")
	}
	docker := parseDockerfile(t, dockerfilePath).goBuild(t)
	ldflags := func(args []string) string {
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "-ldflags="); ok {
				return regexp.MustCompile(`main\.version=(\$\([^)]*\)|\S+)`).ReplaceAllString(v, "main.version=")
			}
		}
		return ""
	}
	readmeArgs := shellWords(t, m[1], nil)
	if !slices.Contains(readmeArgs, "-trimpath") || ldflags(readmeArgs) != ldflags(docker.Args) {
		t.Errorf("README.md builds the binary with %q, the Dockerfile with %q: want the same -trimpath and -ldflags", readmeArgs, docker.Args)
	}
}

// TestKubernetesRunsTheImage checks that the Kubernetes example runs the
// image docker/README.md builds, and says so.
func TestKubernetesRunsTheImage(t *testing.T) {
	g := loadGateway(t)
	if !slices.Contains(dockerReadmeImages(t), g.container.Image) {
		t.Errorf("the Deployment's image %s is not one docker/README.md builds %v", g.container.Image, dockerReadmeImages(t))
	}
	b, err := os.ReadFile("kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "examples/docker/Dockerfile") {
		t.Error("kubernetes/deployment.yaml does not say the image is built from examples/docker/Dockerfile")
	}
	// The image's user is the one the pod runs as.
	var pod struct {
		Spec struct {
			Template struct {
				Spec struct {
					SecurityContext struct {
						RunAsUser *int `yaml:"runAsUser"`
					} `yaml:"securityContext"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	find(t, g.objs, "Deployment", "").decode(t, &pod)
	users := parseDockerfile(t, dockerfilePath).final().all("USER")
	if u := pod.Spec.Template.Spec.SecurityContext.RunAsUser; u != nil && len(users) > 0 {
		if uid, _, _ := strings.Cut(users[len(users)-1].Args, ":"); uid != strconv.Itoa(*u) {
			t.Errorf("the pod's runAsUser %d is not the image's USER %s (the data folder is owned by the image's)", *u, uid)
		}
	}
}

// ---- the Dockerfile ----

type dockerInstr struct {
	Line  int
	Cmd   string   // upper case
	Flags []string // leading --name=value options (RUN --mount, COPY --from, FROM --platform)
	Args  string   // the rest, continuation lines joined
}

type dockerStage struct {
	Image, Name string
	Instrs      []dockerInstr
}

type dockerfile struct {
	Globals map[string]string // ARGs before the first FROM, with their defaults
	Stages  []*dockerStage
}

// parseDockerfile reads a Dockerfile: comments dropped, continuation lines
// joined, instructions grouped by stage.
func parseDockerfile(t *testing.T, path string) *dockerfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	df := &dockerfile{Globals: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	var buf strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // blank and comment lines, also inside a continuation
		}
		if buf.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			buf.WriteString(cont)
			continue
		}
		buf.WriteString(line)
		df.add(t, start, buf.String())
		buf.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 0 {
		t.Fatalf("%s: line %d: a continuation at the end of the file", path, start)
	}
	return df
}

func (df *dockerfile) add(t *testing.T, line int, text string) {
	t.Helper()
	word, rest, _ := strings.Cut(strings.TrimSpace(text), " ")
	in := dockerInstr{Line: line, Cmd: strings.ToUpper(word)}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		var flag string
		flag, rest, _ = strings.Cut(rest, " ")
		in.Flags = append(in.Flags, flag)
		rest = strings.TrimSpace(rest)
	}
	in.Args = rest
	switch {
	case in.Cmd == "FROM":
		words := strings.Fields(in.Args)
		s := &dockerStage{Image: expand(t, words[0], df.Globals)}
		if len(words) == 3 && strings.EqualFold(words[1], "AS") {
			s.Name = words[2]
		}
		df.Stages = append(df.Stages, s)
	case len(df.Stages) == 0:
		if in.Cmd != "ARG" {
			t.Fatalf("line %d: %s before the first FROM", line, in.Cmd)
		}
		name, def, _ := strings.Cut(in.Args, "=")
		df.Globals[name] = def
	default:
		s := df.Stages[len(df.Stages)-1]
		s.Instrs = append(s.Instrs, in)
	}
}

// final is the last stage: the image.
func (df *dockerfile) final() *dockerStage { return df.Stages[len(df.Stages)-1] }

// builder is the stage whose binary the final stage copies.
func (df *dockerfile) builder(t *testing.T) *dockerStage {
	t.Helper()
	for _, c := range df.final().copies(t) {
		for _, s := range df.Stages[:len(df.Stages)-1] {
			if s.Name != "" && s.Name == c.From {
				return s
			}
		}
	}
	t.Fatal("the final stage copies nothing from a named earlier stage")
	return nil
}

// all returns a stage's instructions of one kind.
func (s *dockerStage) all(cmd string) []dockerInstr {
	var out []dockerInstr
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm returns the last ENTRYPOINT or CMD, which must be in exec
// (JSON) form: the shell form needs a shell the image does not have.
func (s *dockerStage) execForm(t *testing.T, cmd string) []string {
	t.Helper()
	ins := s.all(cmd)
	if len(ins) == 0 {
		t.Fatalf("the final stage has no %s", cmd)
	}
	in := ins[len(ins)-1]
	v, err := jsonArray(in.Args)
	if err != nil {
		t.Fatalf("line %d: %s %s: want the exec form [\"…\"] (distroless has no shell): %v", in.Line, cmd, in.Args, err)
	}
	return v
}

func jsonArray(s string) ([]string, error) {
	var v []string
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

type dockerCopy struct{ From, Chown, Src, Dest string }

// copies returns a stage's COPY instructions (one source each).
func (s *dockerStage) copies(t *testing.T) []dockerCopy {
	t.Helper()
	var out []dockerCopy
	for _, in := range s.all("COPY") {
		words := strings.Fields(in.Args)
		if len(words) != 2 {
			continue // several sources: not a folder or binary the tests look for
		}
		c := dockerCopy{Src: words[0], Dest: words[1]}
		for _, f := range in.Flags {
			if v, ok := strings.CutPrefix(f, "--from="); ok {
				c.From = v
			}
			if v, ok := strings.CutPrefix(f, "--chown="); ok {
				c.Chown = v
			}
		}
		out = append(out, c)
	}
	return out
}

// vars is what a stage's instructions may refer to: its ARGs (the build
// argument given, else the default, else the global default) and ENVs.
func (df *dockerfile) vars(s *dockerStage, buildArgs map[string]string) map[string]string {
	v := map[string]string{}
	for _, in := range s.Instrs {
		switch in.Cmd {
		case "ARG":
			for _, a := range strings.Fields(in.Args) {
				name, def, hasDef := strings.Cut(a, "=")
				if !hasDef {
					def = df.Globals[name]
				}
				if b, ok := buildArgs[name]; ok {
					def = b
				}
				v[name] = def
			}
		case "ENV":
			for _, a := range strings.Fields(in.Args) {
				name, value, ok := strings.Cut(a, "=")
				if ok {
					v[name] = value
				}
			}
		}
	}
	return v
}

// env is a stage's ENV settings.
func (s *dockerStage) env() map[string]string {
	e := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, a := range strings.Fields(in.Args) {
			if name, value, ok := strings.Cut(a, "="); ok {
				e[name] = value
			}
		}
	}
	return e
}

// goBuildLine is the builder's `go build` command, variables expanded.
type goBuildLine struct {
	Env    map[string]string // the stage's ENV, then the command's own assignments
	Args   []string          // after "go build", -o included
	Output string            // -o
}

// assignment is a shell word NAME=value before a command.
var assignment = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)

// goBuild finds the builder's one `go build` RUN line.
func (df *dockerfile) goBuild(t *testing.T) goBuildLine {
	t.Helper()
	b := df.builder(t)
	vars := df.vars(b, dockerBuildArgs)
	var found []goBuildLine
	for _, in := range b.all("RUN") {
		words := shellWords(t, in.Args, vars)
		// One command of a && / ; list.
		var cmd []string
		for i := 0; i <= len(words); i++ {
			if i < len(words) && words[i] != "&&" && words[i] != ";" {
				cmd = append(cmd, words[i])
				continue
			}
			line := goBuildLine{Env: b.env()}
			j := 0
			for ; j < len(cmd) && assignment.MatchString(cmd[j]); j++ {
				name, value, _ := strings.Cut(cmd[j], "=")
				line.Env[name] = value
			}
			if len(cmd) > j+1 && cmd[j] == "go" && cmd[j+1] == "build" {
				line.Args = cmd[j+2:]
				for k, a := range line.Args {
					if a == "-o" && k+1 < len(line.Args) {
						line.Output = line.Args[k+1]
					} else if v, ok := strings.CutPrefix(a, "-o="); ok {
						line.Output = v
					}
				}
				found = append(found, line)
			}
			cmd = nil
		}
	}
	if len(found) != 1 {
		t.Fatalf("the builder stage has %d `go build` commands, want one", len(found))
	}
	l := found[0]
	if l.Env["CGO_ENABLED"] != "0" {
		t.Errorf("the go build runs with CGO_ENABLED=%q: want 0, a static binary", l.Env["CGO_ENABLED"])
	}
	if l.Output == "" {
		t.Error("the go build has no -o")
	}
	if !slices.Contains(l.Args, "-trimpath") {
		t.Error("the go build has no -trimpath (build paths would be in the binary)")
	}
	if pkg := l.Args[len(l.Args)-1]; pkg != "./cmd/plugboard" {
		t.Errorf("the go build builds %s, want ./cmd/plugboard", pkg)
	}
	return l
}

var dockerBin struct {
	once sync.Once
	path string
	err  error
}

// dockerBinary builds the plugboard binary as the Dockerfile's builder
// does, once per test run: its go build line, its environment (and
// CGO_ENABLED), from the repository root (its WORKDIR after COPY . .).
func dockerBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary is checked on Linux (ELF)")
	}
	line := parseDockerfile(t, dockerfilePath).goBuild(t)
	dockerBin.once.Do(func() {
		dockerBin.path = filepath.Join(tmpRoot, "docker-bin", "plugboard")
		args := []string{"build"}
		for i := 0; i < len(line.Args); i++ {
			switch a := line.Args[i]; {
			case a == "-o":
				args = append(args, "-o", dockerBin.path)
				i++
			case strings.HasPrefix(a, "-o="):
				args = append(args, "-o="+dockerBin.path)
			default:
				args = append(args, a)
			}
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = mustAbs("..")
		cmd.Env = os.Environ()
		for name, value := range line.Env {
			cmd.Env = append(cmd.Env, name+"="+value)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			dockerBin.err = fmt.Errorf("%s (the Dockerfile's go build): %v\n%s", cmd, err, out)
		}
	})
	if dockerBin.err != nil {
		t.Fatal(dockerBin.err)
	}
	return dockerBin.path
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

// shellWords splits a shell command line into words: quotes, backslash
// escapes and ${NAME}, $NAME and ${NAME:-default} expansion (an unknown
// variable fails the test); "&&" and ";" are words of their own. Enough for
// the plain commands of a Dockerfile, not a shell.
func shellWords(t *testing.T, s string, vars map[string]string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, w.String())
		}
		w.Reset()
		inWord = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == ';':
			flush()
			words = append(words, ";")
		case c == '&' && i+1 < len(s) && s[i+1] == '&':
			flush()
			words = append(words, "&&")
			i++
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				t.Fatalf("unterminated ' in %q", s)
			}
			w.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`, s[i+1]) >= 0:
					i++
					w.WriteByte(s[i])
				case s[i] == '$':
					i = expandAt(t, s, i, vars, &w)
				default:
					w.WriteByte(s[i])
				}
			}
			if i >= len(s) {
				t.Fatalf("unterminated \" in %q", s)
			}
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == '$':
			i = expandAt(t, s, i, vars, &w)
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words
}

var varRef = regexp.MustCompile(`^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// expandAt expands the variable reference at s[i] into w and returns the
// index of its last byte.
func expandAt(t *testing.T, s string, i int, vars map[string]string, w *strings.Builder) int {
	t.Helper()
	m := varRef.FindStringSubmatch(s[i:])
	if m == nil {
		w.WriteByte('$')
		return i
	}
	name := m[1] + m[3]
	v, ok := vars[name]
	switch {
	case ok && v != "":
		w.WriteString(v)
	case m[2] != "":
		w.WriteString(m[2])
	case !ok:
		t.Fatalf("%q refers to $%s, which is neither an ARG nor an ENV of the stage", s, name)
	}
	return i + len(m[0]) - 1
}

// expand expands variable references in one word (FROM's image).
func expand(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	words := shellWords(t, s, vars)
	if len(words) != 1 {
		t.Fatalf("%q: want one word", s)
	}
	return words[0]
}

// goModVersion is go.mod's go line.
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

// dockerReadmeImages are the images docker/README.md's build commands tag
// with a literal name (-t IMAGE).
func dockerReadmeImages(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("docker/README.md")
	if err != nil {
		t.Fatal(err)
	}
	var images []string
	for _, m := range regexp.MustCompile(`(?m)^docker (?:buildx )?build .*-t ([^\s$"]+) \.$`).FindAllSubmatch(b, -1) {
		images = append(images, string(m[1]))
	}
	if len(images) == 0 {
		t.Fatal("docker/README.md has no `docker build … -t IMAGE .` line")
	}
	return images
}

// ---- compose.yaml ----

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string            `yaml:"context"`
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Secrets         []string `yaml:"secrets"`
	Volumes         []string `yaml:"volumes"`
	Ports           []string `yaml:"ports"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
}

// loadCompose parses docker/compose.yaml. Its long forms (depends_on with a
// condition, environment as a map, command as a list) are the ones this
// test reads; a short form fails the parse, and must become a long one.
func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	b, err := os.ReadFile("docker/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker/compose.yaml: %v", err)
	}
	return &c
}

// interpolate applies compose's ${NAME:-default} with nothing set.
func interpolate(s string) string {
	return regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}`).ReplaceAllString(s, "$1")
}

// gitignored returns whether a path (relative to the .gitignore's folder)
// is ignored by a .gitignore of plain /folder/ and /file lines.
func gitignored(t *testing.T, path string) func(string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimPrefix(l, "/"))
		}
	}
	return func(p string) bool {
		p = strings.TrimPrefix(p, "./")
		for _, pat := range patterns {
			if p == strings.TrimSuffix(pat, "/") || strings.HasSuffix(pat, "/") && strings.HasPrefix(p, pat) {
				return true
			}
		}
		return false
	}
}

// ---- running the binary ----

// runBinary runs bin to completion.
func runBinary(t *testing.T, bin, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	p := testfix.Start(t, cmd)
	code = p.Wait(20 * time.Second)
	return p.Stdout.String(), p.Stderr.String(), code
}

type testKeys struct{ private, public, encryption string }

// generateKeys runs `plugboard keys generate` as the READMEs do.
func generateKeys(t *testing.T, bin, dir string) testKeys {
	t.Helper()
	out := filepath.Join(dir, "keys")
	stdout, stderr, code := runBinary(t, bin, dir, baseEnv(dir), "keys", "generate", "--out", out)
	if code != 0 {
		t.Fatalf("keys generate: exit %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	enc := lines[len(lines)-1] // README.md: its last line of output
	if !regexp.MustCompile(`^[^\s:]+:[A-Za-z0-9+/]+=*$`).MatchString(enc) {
		t.Fatalf("the last line of `keys generate` is not the encryption key entry:\n%s", stdout)
	}
	return testKeys{filepath.Join(out, "signing-key.pem"), filepath.Join(out, "signing-key.pub.pem"), enc}
}

type runningGateway struct{ p *testfix.Process }

// startGateway starts bin with args and waits until it listens.
func startGateway(t *testing.T, bin, dir string, env, args []string) runningGateway {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	p := testfix.Start(t, cmd)
	p.Listening()
	return runningGateway{p}
}

// stop sends SIGTERM and expects a clean exit.
func (g runningGateway) stop(t *testing.T) {
	t.Helper()
	if err := g.p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := g.p.Wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, g.p.Stderr)
	}
}

// freeAddr is a free loopback address (host:port).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// getOK is get that fails the test unless the answer is 200.
func getOK(t *testing.T, url, token string) string {
	t.Helper()
	code, body := get(t, url, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, code, body)
	}
	return body
}
