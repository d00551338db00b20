package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/plugboardhq/plugboard/manifest"
)

// printFlags lists fs's flags as the README writes them (--name), which
// flag.PrintDefaults does not: it prints -name.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintln(w, line)
		if def := defaultText(f, kind); def != "" {
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "    \t%s\n", strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

// defaultText is a flag's default as help shows it, or "" when it is the
// zero value and so not worth saying.
func defaultText(f *flag.Flag, kind string) string {
	switch f.DefValue {
	case "", "0", "0s", "false", "[]":
		return ""
	}
	if kind == "string" {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// flagParseError turns the flag package's parse error into the message a
// user sees: flags written --name, and a suggestion for a misspelt one.
func flagParseError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		msg = "unknown flag --" + name
		if s := suggest(name, names); s != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", s)
		}
		return msg
	}
	return singleDashRE.ReplaceAllString(msg, "$1--$2")
}

// singleDashRE finds a flag name the flag package wrote with one dash.
var singleDashRE = regexp.MustCompile(`(^|[\s:])-([A-Za-z][\w-]*)`)

// usageHint is the line after a usage error that says where help is.
func usageHint(command string) string {
	return fmt.Sprintf("Run `plugboard %s --help` for its flags.", command)
}

// suggest returns the candidate s is most plausibly a typo of: the closest
// by edit distance within a third of s's length (at least one edit), or
// else the only candidate s is a prefix of. It returns "" when none fits.
func suggest(s string, candidates []string) string {
	best, bestDist := "", max(1, len(s)/3)+1
	for _, c := range candidates {
		if d := manifest.EditDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" || len(s) < 3 {
		return best
	}
	var prefixed []string
	for _, c := range candidates {
		if strings.HasPrefix(c, s) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}
