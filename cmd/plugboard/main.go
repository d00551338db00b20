// Command plugboard is a self-hosted gateway for custom integrations: end
// users connect their third-party accounts, and your app calls those APIs on
// their behalf. See `plugboard help`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is the module version of this build (see buildVersion); -ldflags
// "-X main.version=…" sets it instead.
var version = ""

func init() {
	if version == "" {
		version = buildVersion()
	}
}

// exitError carries an exit code through command functions.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitInvalid = 1 // the command ran and found a problem (invalid manifest, failed check)
	exitUsage   = 2 // the command line is wrong
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the gateway", runServe},
		{"validate", "check manifests and workflows (CI)", runValidate},
		{"schema", "print the manifest (or workflow) JSON Schema", runSchema},
		{"new", "write a commented manifest for a new integration", runNew},
		{"import", "write a manifest from an OpenAPI document (import openapi FILE)", runImport},
		{"try", "connect one integration locally and call its test endpoint", runTry},
		{"token", "mint a user token for trying the gateway", runToken},
		{"keys", "generate signing and encryption keys; rotate encryption", runKeys},
		{"admin", "a running gateway's connections and integrations (admin API)", runAdmin},
		{"version", "print the version", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args[0] = "version"
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		if len(args) == 0 {
			// No command is a usage error: usage goes to stderr, like an unknown command's.
			usage(stderr)
			return exitUsage
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			var ee exitError
			switch {
			case err == nil:
				return exitOK
			case errors.Is(err, flag.ErrHelp):
				return exitOK
			case errors.As(err, &ee):
				return ee.code
			default:
				fmt.Fprintf(stderr, "plugboard %s: %v\n", c.name, err)
				return exitInvalid
			}
		}
	}
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	msg := fmt.Sprintf("plugboard: unknown command %q", args[0])
	if s := suggest(args[0], names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	fmt.Fprintf(stderr, "%s\nRun `plugboard help` for the commands.\n", msg)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Plugboard: a self-hosted, git-native gateway for custom integrations.")
	fmt.Fprintln(w, "\nUsage: plugboard <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `plugboard <command> --help` for a command's flags, `plugboard --version` for the build.")
}

// newFlagSet returns a flag set whose --help prints the description, the
// usage line and the flags (written --name, as the README does), and whose
// parse errors exit with code 2.
func newFlagSet(name, synopsis, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: plugboard %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(description))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(out, "\nFlags:")
			printFlags(out, fs)
		}
	}
	return fs
}

// parseFlags parses args; --help prints usage to stdout and returns flag.ErrHelp,
// a bad flag is reported on the flag set's output (with a "did you mean"
// for a misspelt name) and returns exit code 2.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	stderr := fs.Output()
	fs.SetOutput(io.Discard) // the flag package's own report prints -name and the whole usage
	defer fs.SetOutput(stderr)
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	// Flags may come after positional arguments (validate dir --strict), as
	// users of most CLIs expect; "--" ends flag parsing.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			fmt.Fprintf(stderr, "plugboard %s: %s\n%s\n", fs.Name(), flagParseError(fs, err), usageHint(fs.Name()))
			return exitError{exitUsage}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}
