package seccomp

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads the program into the kernel for every thread of this
// process (SECCOMP_FILTER_FLAG_TSYNC), so no Go runtime thread stays
// unfiltered. It needs no_new_privs set on the calling thread or
// CAP_SYS_ADMIN in its user namespace. Once it returns, every later
// syscall of the process, including the init's own up to execve, goes
// through the filter: call it last.
//
// A program with user notification returns its listener: the caller
// hands it to the agent and closes its own copy.
//
// Preconditions: OS thread locked (no_new_privs is per-thread).
func Install(p *Program) (*os.File, error) {
	if p == nil {
		return nil, nil
	}
	n := p.Len()
	if n == 0 || n > maxInsns || len(p.Filter)%8 != 0 {
		return nil, fmt.Errorf("seccomp program of %d bytes is malformed", len(p.Filter))
	}
	// Copy into properly typed, aligned memory for the kernel.
	filter := make([]unix.SockFilter, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&filter[0])), len(p.Filter)), p.Filter)
	prog := unix.SockFprog{Len: uint16(n), Filter: &filter[0]}
	flags := p.Flags | FlagTSync
	if p.Notify {
		flags |= FlagNewListener | FlagTSyncESRCH
	}
	r, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	switch {
	case e == unix.EACCES:
		return nil, errors.New("installing the seccomp filter: permission denied (needs no_new_privs or CAP_SYS_ADMIN)")
	case e == unix.ESRCH:
		return nil, errors.New("installing the seccomp filter: a thread could not be synchronised")
	case e != 0:
		return nil, fmt.Errorf("installing the seccomp filter: %w", e)
	case p.Notify:
		return os.NewFile(r, "seccomp listener"), nil
	case r != 0:
		return nil, fmt.Errorf("installing the seccomp filter: thread %d could not be synchronised", r)
	}
	return nil, nil
}
