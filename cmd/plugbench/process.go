package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pinning says which CPUs the target under test and the load side (wrk and
// the backend upstream) run on; empty strings mean unpinned.
type pinning struct {
	target, load string
}

// choosePinning puts the target on CPU 0 and the load on the rest, when
// there are at least two CPUs and taskset exists.
func choosePinning(enabled bool, cpus int) (pinning, string) {
	if !enabled {
		return pinning{}, "not pinned (--pin=false)"
	}
	if cpus < 2 {
		return pinning{}, "not pinned (one CPU)"
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return pinning{}, "not pinned (taskset not found)"
	}
	p := pinning{target: "0", load: "1"}
	if cpus > 2 {
		p.load = fmt.Sprintf("1-%d", cpus-1)
	}
	return p, fmt.Sprintf("target under test on CPU %s (so Go targets run with GOMAXPROCS=1, nginx with one worker); wrk and the backend upstream on CPU %s", p.target, p.load)
}

// pinned returns a command running name under taskset -c cpus (taskset
// execs it, so the pid is the program's own).
func pinned(ctx context.Context, cpus, name string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "taskset", append([]string{"-c", cpus, name}, args...)...)
}

// process is a server plugbench started; its output is kept for errors,
// in memory or, for a server logging every request, in a file.
type process struct {
	name    string
	cmd     *exec.Cmd
	out     *syncBuffer
	logPath string // set instead of out
	done    chan struct{}
}

// start runs cmd with env added to a copy of this process's environment
// without PLUGBOARD_* variables (so the user's settings do not leak in).
func start(name string, cmd *exec.Cmd, env ...string) (*process, error) {
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	p := &process{name: name, cmd: cmd, out: out}
	return p, p.start(env)
}

// startLogged is start with the process's output appended to the file
// logPath, as a server's access log goes to a file or a pipe in
// production: the server pays for every line it writes, plugbench reads
// none of them. truncateLog keeps the file small.
func startLogged(name string, cmd *exec.Cmd, logPath string, env ...string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = f, f
	p := &process{name: name, cmd: cmd, logPath: logPath}
	return p, p.start(env)
}

func (p *process) start(env []string) error {
	cmd := p.cmd
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLUGBOARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	// Die with plugbench, even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.done = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return nil
}

// truncateLog empties the log file of a process started with startLogged
// (it appends, so it carries on at the new end).
func (p *process) truncateLog() error {
	if p.logPath == "" {
		return nil
	}
	return os.Truncate(p.logPath, 0)
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// waitHTTP waits until url answers with want (0: any status).
func (p *process) waitHTTP(ctx context.Context, url string, want int) error {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if want == 0 || resp.StatusCode == want {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %s", p.name, p.output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not get ready at %s: %s", p.name, url, p.output())
		}
	}
}

// stop sends SIGTERM, then SIGKILL after a grace period.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) output() string {
	var s string
	if p.logPath != "" {
		s = strings.TrimSpace(tailOfFile(p.logPath, 4000))
	} else {
		s = strings.TrimSpace(p.out.String())
	}
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

// syncBuffer is a bytes.Buffer safe for a process's concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tailOfFile returns the last n bytes of a file, or why it could not.
func tailOfFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = f.Close() }()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		if _, err := f.Seek(-n, io.SeekEnd); err != nil {
			return err.Error()
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
