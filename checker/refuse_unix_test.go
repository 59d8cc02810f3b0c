//go:build unix

package checker

import (
	"net"
	"syscall"
	"testing"
)

// refusingAddr is a loopback address that refuses connections for the
// whole test: a TCP socket bound to it but never listening. Unlike a
// closed listener's port, no other socket (another test process's
// listener) can take the port meanwhile.
func refusingAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("socket name %T", sa)
	}
	return (&net.TCPAddr{IP: in4.Addr[:], Port: in4.Port}).String()
}
