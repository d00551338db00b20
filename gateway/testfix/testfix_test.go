package testfix

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMain doubles as the child process of the Start tests.
func TestMain(m *testing.M) {
	switch os.Getenv("TESTFIX_CHILD") {
	case "":
		os.Exit(m.Run())
	case "text":
		fmt.Fprintln(os.Stderr, `time=2026-01-01T00:00:00Z level=INFO msg="admin listener" addr=127.0.0.1:9`)
		fmt.Fprintln(os.Stderr, `time=2026-01-01T00:00:00Z level=INFO msg=listening addr=127.0.0.1:4321 mode=dev`)
	case "json":
		fmt.Fprintln(os.Stdout, "hello")
		fmt.Fprintln(os.Stderr, `{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"listening","addr":"127.0.0.1:8765"}`)
	case "exit":
		fmt.Fprintln(os.Stderr, "level=ERROR msg=\"cannot listen\"")
		os.Exit(3)
	}
	time.Sleep(time.Minute) // until the test kills it
	os.Exit(0)
}

func child(t *testing.T, mode string) *Process {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TESTFIX_CHILD="+mode)
	return Start(t, cmd)
}

func TestListeningTextAndJSON(t *testing.T) {
	if got := child(t, "text").Listening(); got != "127.0.0.1:4321" {
		t.Errorf("text log: %q", got)
	}
	p := child(t, "json")
	if got := p.Listening(); got != "127.0.0.1:8765" {
		t.Errorf("JSON log: %q", got)
	}
	Eventually(t, "stdout", func() bool { return p.Stdout.String() == "hello\n" })
}

func TestExitCodeAndWait(t *testing.T) {
	p := child(t, "exit")
	if code := p.Wait(Timeout); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if !strings.Contains(p.Stderr.String(), "cannot listen") {
		t.Errorf("stderr %q", p.Stderr)
	}
}

// fakeT records a failure instead of ending the test.
type fakeT struct{ failed string }

func (f *fakeT) Helper()                           {}
func (f *fakeT) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestEventually(t *testing.T) {
	n := 0
	var f fakeT
	eventually(&f, time.Second, "the third call", func() (bool, string) { n++; return n == 3, "" })
	if f.failed != "" || n != 3 {
		t.Errorf("failed %q after %d calls", f.failed, n)
	}
	eventually(&f, 20*time.Millisecond, "the moon", func() (bool, string) { return false, "cheese" })
	if want := "still waiting for the moon after 20ms; last saw: cheese"; f.failed != want {
		t.Errorf("failure %q, want %q", f.failed, want)
	}
}
