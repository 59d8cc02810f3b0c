//go:build linux

package store

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// releasePages advises the kernel that the size bytes mapped at addr are
// not needed: their page table entries go, the page cache keeps them.
func releasePages(addr uintptr, size int64) error {
	if addr == 0 || size <= 0 {
		return nil
	}
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, uintptr(size), unix.MADV_DONTNEED); errno != 0 {
		return fmt.Errorf("store: releasing mapped pages: %w", errno)
	}
	return nil
}
