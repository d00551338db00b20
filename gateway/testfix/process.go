package testfix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Plugboard returns the path of the plugboard binary, built from this
// module's cmd/plugboard the first time a test of the package asks. Call
// Run from TestMain to remove it afterwards.
func Plugboard(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "plugboard-test-bin-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "plugboard")
		out, err := exec.Command("go", "build", "-o", build.path, "github.com/plugboardhq/plugboard/cmd/plugboard").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/plugboard: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// Run runs the package's tests and removes the binary Plugboard built:
// os.Exit(testfix.Run(m)) in TestMain.
func Run(m *testing.M) int {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	return code
}

// Output collects a process's output while the test reads it.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Process is a command started by Start, with its output kept.
type Process struct {
	Cmd            *exec.Cmd
	Stdout, Stderr *Output
	t              testing.TB
	done           chan struct{}
	code           int
}

// Start starts cmd with its stdout and stderr kept in the Process (and
// still written wherever cmd already sent them). The process is killed when
// the test ends.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, Stdout: &Output{}, Stderr: &Output{}, t: t, done: make(chan struct{})}
	cmd.Stdout = tee(p.Stdout, cmd.Stdout)
	cmd.Stderr = tee(p.Stderr, cmd.Stderr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd, err)
	}
	go func() {
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // a no-op once it has exited
		<-p.done
	})
	return p
}

func tee(o *Output, w io.Writer) io.Writer {
	if w == nil {
		return o
	}
	return io.MultiWriter(o, w)
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the exit code once Done is closed; -1 if a signal ended it.
func (p *Process) ExitCode() int {
	<-p.done
	return p.code
}

// Wait waits up to timeout for the process to exit and returns its exit
// code; it fails the test if the process is still running.
func (p *Process) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %v\n--- stderr:\n%s", p.Cmd, timeout, p.Stderr)
		return -1
	}
}

// listeningAddr finds the address of plugboard's "listening" record in
// one log line, in the text or the JSON log format.
func listeningAddr(line string) string {
	var rec struct{ Msg, Addr string }
	if json.Unmarshal([]byte(line), &rec) == nil {
		if rec.Msg == "listening" {
			return rec.Addr
		}
		return ""
	}
	if !strings.Contains(line, " msg=listening ") {
		return ""
	}
	if m := textAddrRE.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

var textAddrRE = regexp.MustCompile(`\baddr=(\S+)`)

// Listening waits until the process logs that it listens and returns the
// address it logged (host:port). It fails the test, with the log, if the
// process exits first or does not listen within Timeout.
func (p *Process) Listening() string {
	p.t.Helper()
	deadline := time.After(Timeout)
	for {
		s := p.Stderr.String()
		for _, l := range strings.Split(s[:strings.LastIndex(s, "\n")+1], "\n") { // whole lines only
			if addr := listeningAddr(l); addr != "" {
				return addr
			}
		}
		select {
		case <-p.done:
			// The last lines may have come in with the exit.
			if !strings.Contains(p.Stderr.String()[len(s):], "listening") {
				p.t.Fatalf("%s exited %d before listening\n--- stderr:\n%s", p.Cmd, p.code, p.Stderr)
			}
		case <-deadline:
			p.t.Fatalf("%s did not log \"listening\" within %v\n--- stderr:\n%s", p.Cmd, Timeout, p.Stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
