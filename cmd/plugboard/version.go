package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// buildVersion is the module version the binary was built at: v1.2.3 for
// `go install …@v1.2.3`, a pseudo-version for a commit, or "dev" for a
// build from a checkout (which Go records as "(devel)").
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// buildInfo is what `plugboard version` prints: the version, the VCS commit
// the binary was built from (and whether the tree had uncommitted changes),
// and the Go toolchain.
type buildInfo struct {
	Version, Commit, CommitTime, Go string
	Modified                        bool
}

// readBuildInfo reads what Go recorded in the binary (bi from
// debug.ReadBuildInfo; nil when there is none).
func readBuildInfo(bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: version, Go: "unknown"}
	if bi == nil {
		return b
	}
	b.Go = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitTime = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", "Print this binary's module version, the commit it was built from (and\nwhether the tree had uncommitted changes) and the Go version; also\n`plugboard --version`.", stderr)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	readBuildInfo(bi).print(stdout)
	return nil
}

func (b buildInfo) print(w io.Writer) {
	fmt.Fprintln(w, "plugboard", b.Version)
	switch {
	case b.Commit == "":
		fmt.Fprintln(w, "  commit  unknown (not recorded: built outside a git checkout, or with -buildvcs=false)")
	case b.Modified:
		fmt.Fprintf(w, "  commit  %s (modified: built with uncommitted changes)\n", b.Commit)
	default:
		fmt.Fprintf(w, "  commit  %s\n", b.Commit)
	}
	if b.CommitTime != "" {
		fmt.Fprintf(w, "  date    %s\n", b.CommitTime)
	}
	fmt.Fprintf(w, "  go      %s\n", b.Go)
}
