package manifest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Caps of the files the loader reads besides manifests (MaxManifestBytes)
// and icons (MaxIconBytes).
const (
	MaxSecretFileBytes = 64 << 10  // a ${file:…} secret
	MaxConfigBytes     = 256 << 10 // the gateway's configuration file
)

// errNotRegular is returned for a path that leads (after symbolic links) to
// anything but a regular file: a folder, a FIFO, a device such as /dev/zero.
var errNotRegular = errors.New("not a regular file")

// fileTooLargeError says a file is over its cap.
type fileTooLargeError struct{ size, max int64 }

func (e *fileTooLargeError) Error() string { return e.describe("file") }

// describe says what is too large, e.g. describe("icon file a.svg").
func (e *fileTooLargeError) describe(what string) string {
	if e.size > e.max {
		return fmt.Sprintf("%s is %d bytes, more than the %d allowed", what, e.size, e.max)
	}
	return fmt.Sprintf("%s is more than the %d bytes allowed", what, e.max)
}

// readRegularFile reads a regular file of at most max bytes. It never
// blocks on a FIFO or reads forever from a device: the path is checked with
// stat first, opened non-blocking, checked again on the open descriptor (the
// path may have changed in between), and read through a limit, so a file
// that grows after the check is still cut off.
func readRegularFile(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	if fi.Size() > max {
		return nil, &fileTooLargeError{fi.Size(), max}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: closing loses nothing
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, &fileTooLargeError{0, max}
	}
	return data, nil
}

// errOutsideFolder is returned for a path whose symbolic links lead out of
// the folder it must stay in.
var errOutsideFolder = errors.New("a symbolic link leads out of the manifest's folder")

// readInFolder reads a file beside a manifest (an icon): like
// readRegularFile, and the file it leads to after symbolic links must be
// inside dir (links within it, as in a Kubernetes ConfigMap volume, are fine).
func readInFolder(path, dir string, max int64) ([]byte, error) {
	real, err := realPath(path)
	if err != nil {
		return nil, err
	}
	if root := rootPath(dir, true); root == "" || !within(root, real) {
		return nil, errOutsideFolder
	}
	return readRegularFile(real, max)
}

// realPath is path made absolute with every symbolic link resolved.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
