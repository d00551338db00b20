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
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/plugboardhq/plugboard/gateway"
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
Secrets the manifest references (${ENV_NAME}) must be set, and are held to
the same policy as in serve (--secret-env-allow, --secrets-dir).
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
	fs := newFlagSet("try", "<integration> [--manifests DIR] [--input key=value]... [--listen ADDR]", tryHelp, stderr)
	manifests := fs.String("manifests", "integrations.d", "folder of manifests")
	listen := fs.String("listen", "127.0.0.1:0", "address of the throwaway gateway (fix the port for OAuth redirect URIs)")
	wait := fs.Duration("wait", 5*time.Minute, "how long to wait for the browser connection")
	open := fs.Bool("open", false, "open the connect link in the default browser (xdg-open)")
	egressAllow := fs.String("egress-allow", "", "comma-separated CIDRs the throwaway gateway may call although they are private (hosts a manifest writes literally as localhost or 127.0.0.1 always may)")
	config := fs.String("config", "plugboard.yaml", "configuration file whose secrets section applies (optional when left at its default)")
	var secrets secretFlags
	secrets.register(fs)
	inputs := inputFlags{}
	fs.Var(inputs, "input", "a value the user would type, key=value (repeatable); skips the browser for non-OAuth integrations")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "plugboard try: name one integration, e.g. plugboard try stripe")
		return exitError{exitUsage}
	}
	dataDir, err := secrets.apply(fs, *config, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "plugboard try: %v\n", err)
		return exitError{exitUsage}
	}
	policy, err := secrets.policy(dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "plugboard try: %v\n", err)
		return exitError{exitUsage}
	}
	id := strings.TrimPrefix(fs.Arg(0), "custom.")
	allow, err := egress.ParseAllow(*egressAllow)
	if err != nil {
		fmt.Fprintf(stderr, "plugboard try: --egress-allow: %v\n", err)
		return exitError{exitUsage}
	}
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	data, err := os.MkdirTemp("", "plugboard-try-")
	if err != nil {
		return err
	}
	defer func() {
		if err := os.RemoveAll(data); err != nil {
			fmt.Fprintf(stderr, "plugboard try: removing the temporary store: %v\n", err)
		}
	}()
	entry, err := seal.GenerateKey()
	if err != nil {
		return err
	}
	kr, err := seal.ParseKeyring(entry)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := store.OpenSQLite(ctx, filepath.Join(data, databaseFile), kr)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }() // a throwaway store, removed with data
	signer, err := usertoken.GenerateRSA(2048)
	if err != nil {
		return err
	}
	kid, _ := usertoken.KeyID(signer.Public())
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	srv, err := gateway.New(gateway.Config{
		PublicURL: base, ManifestDir: *manifests, Log: quiet, Version: version,
		Manifest: manifest.Options{ResolveSecrets: true, SecretPolicy: policy},
		Projects: []project.Config{{ID: "try", Keys: []usertoken.PublicKey{{ID: kid, Key: signer.Public()}}}},
		Store:    st, Keyring: kr,
		Egress: egress.Policy{Allow: allow, LiteralLoopback: true}, // a dev gateway
	})
	if err != nil {
		_ = ln.Close() // unused; the error that matters is err
		return err
	}
	in, ok := srv.Reloader().Catalog().Lookup(id)
	if !ok {
		_ = ln.Close() // unused
		for _, e := range srv.Reloader().Catalog().Entries() {
			for _, p := range e.Problems.Errors() {
				fmt.Fprintln(stderr, p.String())
			}
		}
		return fmt.Errorf("integration %q is not loaded from %s (see the problems above, or plugboard validate)", id, *manifests)
	}
	serveCtx, cancelServe := context.WithCancel(context.Background())
	defer cancelServe()
	go func() { _ = srv.Serve(serveCtx, ln) }()
	token, err := usertoken.Mint(signer, kid, "try", "plugboard-try", time.Hour, time.Now())
	if err != nil {
		return err
	}
	api := &apiClient{base: base, token: token}

	if len(inputs) > 0 && in.Auth.Type != manifest.AuthOAuth2 {
		payload := map[string]any{}
		for k, v := range inputs {
			payload[k] = v
		}
		status, body, err := api.post("/projects/try/sdk/credentials", map[string]any{"integrationId": id, "payload": payload})
		if err != nil {
			return err
		}
		if status != http.StatusCreated {
			fmt.Fprintf(stdout, "%s: not connected (%d)\n%s\n", in.Name, status, indentJSON(body))
			return exitError{exitInvalid}
		}
	} else {
		status, body, err := api.post("/projects/try/sdk/connect-links", map[string]any{"integrationId": id})
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("creating a connect link: %d %s %v", status, body, err)
		}
		var link struct{ URL string }
		_ = json.Unmarshal(body, &link)
		fmt.Fprintf(stdout, "Open this link to connect %s (single use, valid 10 minutes):\n  %s\n", in.Name, link.URL)
		if in.Auth.Type == manifest.AuthOAuth2 {
			fmt.Fprintf(stdout, "Redirect URI to register at the provider: %s/oauth/callback\n", base)
		}
		if *open {
			_ = exec.Command("xdg-open", link.URL).Start()
		}
		fmt.Fprintln(stdout, "Waiting for the connection…")
		if err := waitConnected(ctx, st, id, *wait); err != nil {
			return err
		}
	}
	res, err := srv.TestConnection(ctx, "try", "plugboard-try", id)
	if err != nil {
		fmt.Fprintf(stdout, "%s: test request failed: %v\n", in.Name, err)
		return exitError{exitInvalid}
	}
	verdict := "works"
	if !res.OK() {
		verdict = "REFUSED"
	}
	fmt.Fprintf(stdout, "%s: credential %s — GET %s answered %d in %s\n%s\n", in.Name, verdict, res.Endpoint, res.Status, res.Duration.Round(time.Millisecond), excerpt(res.Excerpt, 400))
	if !res.OK() {
		return exitError{exitInvalid}
	}
	return nil
}

func waitConnected(ctx context.Context, st store.Store, id string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if _, err := st.Default(ctx, "try", "plugboard-try", id); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
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
