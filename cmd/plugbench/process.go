package main

import (
	"bytes"
	"context"
	"fmt"
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

// process is a server plugbench started; its output is kept for errors.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// start runs cmd with env added to a copy of this process's environment
// without PLUGBOARD_* variables (so the user's settings do not leak in).
func start(name string, cmd *exec.Cmd, env ...string) (*process, error) {
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLUGBOARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Die with plugbench, even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
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
	s := strings.TrimSpace(p.out.String())
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
