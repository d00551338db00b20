package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/plugboardhq/plugboard/gateway"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
	"github.com/plugboardhq/plugboard/manifest"
)

const tryHelp = `
Try one integration before shipping its manifest: start a throwaway local
gateway in dev mode for the manifest folder, connect an account, call the
manifest's test endpoint and print the status, the time it took and the
start of the body. The exit status says whether the credential works (0) or
not (1); 2 is a usage error.

API-key, basic and client-credentials integrations can skip the browser:
  plugboard try stripe --input secret_key=sk_test_…
  plugboard try zoom --input account_id=… --input client_id=… --input client_secret=…

Otherwise (and always for OAuth) it prints a connect link to open in a
browser and waits for the connection. For OAuth, register the redirect URI
it prints at the provider; --listen fixes the port so the URI stays the same.

It follows serve's dev-mode rules: secrets the manifest references
(${ENV_NAME}, ${file:path}) are held to serve's policy (--secret-env-allow,
--secrets-dir); an unset one is a warning, and only what needs it fails (an
OAuth integration needs its client id and secret, so try stops there).
Only the tried integration's problems are printed, or, when it did not
load, those of the files that failed.

When a connection fails, try prints the real cause, which the gateway
never tells end users: a DNS failure, a refused connection, a TLS error,
or the status and the start of the body the test request or the token
exchange got.
`

type inputFlags map[string]string

func (f inputFlags) String() string { return "" }

func (f inputFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	f[k] = val
	return nil
}

func runTry(args []string, stdout, stderr io.Writer) error {
	o, err := parseTryFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, err := startTryGateway(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer g.close(stderr)
	in, err := g.integration(o, stderr)
	if err != nil {
		return err
	}
	go func() { _ = g.srv.Serve(g.serveCtx, g.ln) }()
	if len(o.inputs) > 0 && in.Auth.Type != manifest.AuthOAuth2 {
		err = g.connectWithInputs(in, o, stdout)
	} else {
		err = g.connectInBrowser(ctx, in, o, stdout)
	}
	if err != nil {
		return err
	}
	return g.reportTest(ctx, in, o.id, stdout)
}

// tryOptions are try's flags.
type tryOptions struct {
	id, manifests, listen string
	wait                  time.Duration
	open                  bool
	egressAllow           []netip.Prefix
	secretPolicy          manifest.SecretPolicy
	inputs                inputFlags
}

func parseTryFlags(args []string, stdout, stderr io.Writer) (tryOptions, error) {
	var o tryOptions
	fs := newFlagSet("try", "<integration> [--manifests DIR] [--input key=value]... [--listen ADDR]", tryHelp, stderr)
	fs.StringVar(&o.manifests, "manifests", "integrations.d", "folder of manifests")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address of the throwaway gateway (fix the port for OAuth redirect URIs)")
	fs.DurationVar(&o.wait, "wait", 5*time.Minute, "how long to wait for the browser connection")
	fs.BoolVar(&o.open, "open", false, "open the connect link in the default browser (xdg-open)")
	egressAllow := fs.String("egress-allow", "", "comma-separated CIDRs the throwaway gateway may call although they are private (hosts a manifest writes literally as localhost or 127.0.0.1 always may)")
	config := fs.String("config", "plugboard.yaml", "configuration file whose secrets section applies (optional when left at its default)")
	var secrets secretFlags
	secrets.register(fs)
	o.inputs = inputFlags{}
	fs.Var(o.inputs, "input", "a value the user would type, key=value (repeatable); skips the browser for non-OAuth integrations")
	if err := parseFlags(fs, args, stdout); err != nil {
		return o, err
	}
	usage := func(format string, a ...any) (tryOptions, error) {
		fmt.Fprintf(stderr, "plugboard try: "+format+"\n", a...)
		return o, exitError{exitUsage}
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "plugboard try: name one integration, e.g. plugboard try stripe")
		return o, exitError{exitUsage}
	}
	o.id = strings.TrimPrefix(fs.Arg(0), "custom.")
	dataDir, err := secrets.apply(fs, *config, os.LookupEnv)
	if err != nil {
		return usage("%v", err)
	}
	if o.secretPolicy, err = secrets.policy(dataDir); err != nil {
		return usage("%v", err)
	}
	if o.egressAllow, err = egress.ParseAllow(*egressAllow); err != nil {
		return usage("--egress-allow: %v", err)
	}
	return o, nil
}

// tryGateway is try's throwaway dev gateway: a store in a temporary
// folder, a generated signing key, one project "try" and its user.
type tryGateway struct {
	srv         *gateway.Server
	st          store.Store
	ln          net.Listener
	base        string
	api         *apiClient
	data        string
	serveCtx    context.Context
	cancelServe context.CancelFunc
	failures    chan *apierror.Error // connect failures of the tried integration, with their causes
}

const tryProject, tryUser = "try", "plugboard-try"

func startTryGateway(ctx context.Context, o tryOptions, stderr io.Writer) (*tryGateway, error) {
	data, err := os.MkdirTemp("", "plugboard-try-")
	if err != nil {
		return nil, err
	}
	g := &tryGateway{data: data, failures: make(chan *apierror.Error, 16)}
	g.serveCtx, g.cancelServe = context.WithCancel(context.Background())
	fail := func(err error) (*tryGateway, error) {
		g.close(stderr)
		return nil, err
	}
	entry, err := seal.GenerateKey()
	if err != nil {
		return fail(err)
	}
	kr, err := seal.ParseKeyring(entry)
	if err != nil {
		return fail(err)
	}
	if g.st, err = store.OpenSQLite(ctx, filepath.Join(data, databaseFile), kr); err != nil {
		return fail(err)
	}
	signer, err := usertoken.GenerateRSA(2048)
	if err != nil {
		return fail(err)
	}
	kid, _ := usertoken.KeyID(signer.Public())
	if g.ln, err = net.Listen("tcp", o.listen); err != nil {
		return fail(err)
	}
	g.base = "http://" + g.ln.Addr().String()
	// Reloads log every manifest's problems, and failed connects their
	// causes: try prints those of the tried integration itself.
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	g.srv, err = gateway.New(gateway.Config{
		PublicURL: g.base, ManifestDir: o.manifests, Log: quiet, Version: version,
		Manifest: manifest.Options{ResolveSecrets: true, AllowUnresolvedSecrets: true, SecretPolicy: o.secretPolicy},
		ConnectFailed: func(id string, e *apierror.Error) {
			if id == o.id {
				select {
				case g.failures <- e:
				default: // try reports the first ones; a flood is not news
				}
			}
		},
		Projects: []project.Config{{ID: tryProject, Keys: []usertoken.PublicKey{{ID: kid, Key: signer.Public()}}}},
		Store:    g.st, Keyring: kr,
		Egress: egress.Policy{Allow: o.egressAllow, LiteralLoopback: true}, // a dev gateway
	})
	if err != nil {
		return fail(err)
	}
	token, err := usertoken.Mint(signer, kid, tryProject, tryUser, time.Hour, time.Now())
	if err != nil {
		return fail(err)
	}
	g.api = &apiClient{base: g.base, token: token}
	return g, nil
}

// close stops serving and removes the temporary folder.
func (g *tryGateway) close(stderr io.Writer) {
	g.cancelServe()
	if g.ln != nil {
		_ = g.ln.Close() // Serve may have closed it already
	}
	if g.st != nil {
		_ = g.st.Close() // a throwaway store, removed with data
	}
	if err := os.RemoveAll(g.data); err != nil {
		fmt.Fprintf(stderr, "plugboard try: removing the temporary store: %v\n", err)
	}
}

// connectWithInputs connects with the values given as --input, as the
// SDK's headless install does.
func (g *tryGateway) connectWithInputs(in *manifest.Integration, o tryOptions, stdout io.Writer) error {
	payload := map[string]any{}
	for k, v := range o.inputs {
		payload[k] = v
	}
	status, body, err := g.api.post("/projects/"+tryProject+"/sdk/credentials", map[string]any{"integrationId": o.id, "payload": payload})
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		fmt.Fprintf(stdout, "%s: not connected (%d)\n%s\n", in.Name, status, indentJSON(body))
		// The gateway reported the cause before it answered.
		select {
		case e := <-g.failures:
			printCause(stdout, e.Cause)
		case <-time.After(100 * time.Millisecond):
		}
		return exitError{exitInvalid}
	}
	return nil
}

// connectInBrowser prints a connect link and waits for the connection.
func (g *tryGateway) connectInBrowser(ctx context.Context, in *manifest.Integration, o tryOptions, stdout io.Writer) error {
	status, body, err := g.api.post("/projects/"+tryProject+"/sdk/connect-links", map[string]any{"integrationId": o.id})
	if err != nil || status != http.StatusCreated {
		return fmt.Errorf("creating a connect link: %d %s %v", status, body, err)
	}
	var link struct{ URL string }
	_ = json.Unmarshal(body, &link)
	fmt.Fprintf(stdout, "Open this link to connect %s (single use, valid 10 minutes):\n  %s\n", in.Name, link.URL)
	if in.Auth.Type == manifest.AuthOAuth2 {
		fmt.Fprintf(stdout, "Redirect URI to register at the provider: %s/oauth/callback\n", g.base)
	}
	if o.open {
		_ = exec.Command("xdg-open", link.URL).Start() // a convenience; the link is printed
	}
	fmt.Fprintln(stdout, "Waiting for the connection…")
	return g.waitConnected(ctx, in, o.id, o.wait, stdout)
}

// reportTest makes the test request with the new connection and prints
// the verdict; a refused credential is exit status 1.
func (g *tryGateway) reportTest(ctx context.Context, in *manifest.Integration, id string, stdout io.Writer) error {
	res, err := g.srv.TestConnection(ctx, tryProject, tryUser, id)
	if err != nil {
		fmt.Fprintf(stdout, "%s: test request failed\n", in.Name)
		printCause(stdout, err)
		return exitError{exitInvalid}
	}
	verdict := "works"
	if !res.OK() {
		verdict = "REFUSED"
	}
	fmt.Fprintf(stdout, "%s: credential %s — %s %s answered %d in %s\n%s\n", in.Name, verdict, res.Method, res.Endpoint, res.Status, res.Duration.Round(time.Millisecond), excerpt(res.Excerpt, 400))
	if !res.OK() {
		return exitError{exitInvalid}
	}
	return nil
}

// waitConnected waits for the browser's connection, printing the cause of
// each failed attempt as it happens (the portal shows the user less).
func (g *tryGateway) waitConnected(ctx context.Context, in *manifest.Integration, id string, wait time.Duration, stdout io.Writer) error {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if _, err := g.st.Default(ctx, tryProject, tryUser, id); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case e := <-g.failures:
			fmt.Fprintf(stdout, "%s: connect attempt failed: %s\n", in.Name, e.Message)
			printCause(stdout, e.Cause)
			fmt.Fprintln(stdout, "Still waiting (start again from the link's page, or press Ctrl-C)…")
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("no connection within %s", wait)
}

type apiClient struct{ base, token string }

func (c *apiClient) post(path string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

func indentJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "  ", "  ") != nil {
		return "  " + string(b)
	}
	return "  " + buf.String()
}

func excerpt(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[:n] + "…"
	}
	if s == "" {
		return "  (empty body)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
