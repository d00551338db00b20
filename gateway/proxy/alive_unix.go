//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection is still open and has nothing
// to read: a peek that does not wait, on the socket itself. End of stream,
// an error or bytes nobody asked for (a close_notify, a late answer) make
// it unfit for the next request.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	live := true
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Open with nothing waiting is EAGAIN; anything else is an
		// error, the end of the stream (n == 0) or unsolicited bytes.
		live = n <= 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	})
	return live && err == nil
}
