package main

import (
	"errors"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// checkInitBind refuses --init when the container could overwrite the
// urun-init it binds in. The bind is read-only, but a process with
// CAP_SYS_ADMIN (--privileged, --cap-add SYS_ADMIN) can remount it
// read-write; the kernel then refuses writes only while pid 1 still runs
// the program (ETXTBSY), and a process that can trace pid 1 can make it
// exec something else. A root-owned urun-init is not writable by the
// container's root at all (its owner is not mapped), so it is safe.
func checkInitBind(initPath string, spec *specs.Spec) error {
	if unix.Geteuid() == 0 {
		return nil // the container's root is root already: nothing more to guard
	}
	if spec.Process == nil || spec.Process.Capabilities == nil ||
		!slices.Contains(spec.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
		return nil
	}
	if unix.Faccessat(unix.AT_FDCWD, initPath, unix.W_OK, unix.AT_EACCESS) != nil {
		return nil
	}
	return errors.New("--init with CAP_SYS_ADMIN (--privileged) would let the container overwrite " + initPath +
		", which you can write: install urun root-owned (sudo make install), or drop --init or the capability")
}
