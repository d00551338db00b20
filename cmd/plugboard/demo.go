package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/plugboardhq/plugboard/gateway"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// checkDemo refuses --demo in production: the demo servers accept fixed
// credentials and mint user tokens for anyone who asks.
func checkDemo(demo, explicit, dev bool) error {
	if demo && explicit && !dev {
		return errors.New("--demo (PLUGBOARD_DEMO): the demo integrations, servers and playground are for dev mode only; remove it in production")
	}
	return nil
}

// demoConfig is the gateway's demo in dev mode (nil otherwise). The
// playground mints user tokens with the dev signing key when that key is
// one the project trusts.
func demoConfig(o serveOptions, set serveSettings) *gateway.Demo {
	if !set.dev || !o.demo {
		return nil
	}
	d := &gateway.Demo{}
	b, err := os.ReadFile(filepath.Join(o.data, signingKeyFile))
	if err != nil || len(set.projects) == 0 {
		return d
	}
	key, err := usertoken.ParsePrivateKeyPEM(b)
	if err != nil {
		return d
	}
	kid, err := usertoken.KeyID(key.Public())
	if err != nil {
		return d
	}
	if slices.ContainsFunc(set.projects[0].Keys, func(k usertoken.PublicKey) bool { return k.ID == kid }) {
		d.AppKey = key
	}
	return d
}

// selfCommand is how a person at the terminal runs this program again:
// "go run ./cmd/plugboard" when it was started by go run (a binary in the
// build cache), "plugboard" when that is the one on PATH, else its path.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "plugboard"
	}
	return selfCommandFor(exe, func(name string) (string, error) { return exec.LookPath(name) })
}

func selfCommandFor(exe string, lookPath func(string) (string, error)) string {
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "go run ./cmd/plugboard"
	}
	if p, err := lookPath("plugboard"); err == nil {
		if a, b := evalPath(p), evalPath(exe); a == b {
			return "plugboard"
		}
	}
	return exe
}

func evalPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
