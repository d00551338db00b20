// Command sdk-app is a minimal web app that uses the unmodified
// @useparagon/connect SDK against a Plugboard gateway: a static page, and a
// tiny backend that signs a user token for the page (the part a real app's
// backend does after its own login).
//
// From the repository root, with a dev gateway running:
//
//	go run ./cmd/plugboard serve --allowed-origins http://127.0.0.1:3000
//	go run ./examples/sdk-app
//
// then open http://127.0.0.1:3000. See README.md beside this file.
package main

import (
	"crypto"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

//go:embed index.html
var indexHTML string

var page = template.Must(template.New("index").Parse(indexHTML))

func main() {
	listen := flag.String("listen", "127.0.0.1:3000", "address of the app")
	gateway := flag.String("gateway", "http://127.0.0.1:8080", "base URL of the Plugboard gateway")
	project := flag.String("project", "dev", "project id on the gateway")
	keyFile := flag.String("key", ".plugboard/signing-key.pem", "private key that signs user tokens (the dev gateway generates this one)")
	user := flag.String("user", "demo-user", "the signed-in user of this demo app")
	dir := flag.String("dir", "examples/sdk-app", "folder holding package.json (node_modules is installed there)")
	flag.Parse()

	signer, kid, err := loadSigner(*keyFile)
	if err != nil {
		log.Fatalf("%v (start the gateway once in dev mode first: go run ./cmd/plugboard serve)", err)
	}
	bundle := filepath.Join(*dir, "node_modules/@useparagon/connect/dist/src/index.js")
	if err := ensureSDK(*dir, bundle); err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, map[string]string{"Gateway": *gateway, "Project": *project})
	})
	http.HandleFunc("GET /sdk.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, bundle)
	})
	// The app's backend decides who the user is; here it is always the same
	// demo user. A real app signs the token after its own login.
	http.HandleFunc("POST /api/user-token", func(w http.ResponseWriter, r *http.Request) {
		tok, err := usertoken.Mint(signer, kid, *project, *user, time.Hour, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "projectId": *project})
	})
	log.Printf("SDK app on http://%s (gateway %s, project %s, user %s)", *listen, *gateway, *project, *user)
	log.Fatal(http.ListenAndServe(*listen, nil))
}

func loadSigner(path string) (crypto.Signer, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("signing key: %w", err)
	}
	signer, err := usertoken.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	kid, err := usertoken.KeyID(signer.Public())
	return signer, kid, err
}

// ensureSDK installs the npm package from the lockfile on first run.
func ensureSDK(dir, bundle string) error {
	if _, err := os.Stat(bundle); err == nil {
		return nil
	}
	log.Printf("installing @useparagon/connect with npm ci in %s …", dir)
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci in %s: %w (is Node.js installed?)", dir, err)
	}
	return nil
}
