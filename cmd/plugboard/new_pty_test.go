//go:build linux

package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// openPTY opens a pseudo-terminal pair with the standard library alone.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { _ = master.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tty.Close() })
	return master, tty
}

// TestNewAsksOnATerminal runs the binary with a terminal as standard
// input: the flags left out are asked for.
func TestNewAsksOnATerminal(t *testing.T) {
	t.Parallel()
	master, tty := openPTY(t)
	dir := t.TempDir()
	cmd := exec.Command(testfix.Plugboard(t), "new", "--id", "acme", "--name", "Acme")
	cmd.Dir = dir
	cmd.Stdin = tty
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, master) }() // the terminal's echo
	// Answers typed ahead wait in the terminal until they are read.
	if _, err := master.WriteString("basic\nhttps://api.acme.example/v1\n"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"Auth type (oauth2, oauth2_client_credentials, api_key, basic) [oauth2]: ", "API base URL [https://api.acme.com]: "} {
		if !bytes.Contains(stderr.Bytes(), []byte(want)) {
			t.Errorf("stderr should ask %q, got %q", want, stderr.String())
		}
	}
	if bytes.Contains(stderr.Bytes(), []byte("Integration id")) {
		t.Errorf("--id was given, yet asked: %q", stderr.String())
	}
	in := loadWritten(t, filepath.Join(dir, "acme.yaml"))
	if in.Auth.Type != "basic" || in.API.BaseURL.Source() != "https://api.acme.example/v1" {
		t.Errorf("got %s %s", in.Auth.Type, in.API.BaseURL.Source())
	}
}
