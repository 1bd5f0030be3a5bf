package container

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// loopbackUp brings lo up in a network namespace the container created:
// a new namespace has lo down, and programs expect 127.0.0.1 to work. An
// SIOCSIFFLAGS ioctl does it in a few lines of x/sys/unix, where a
// netlink RTM_NEWLINK message would need building and parsing, and it
// keeps urun-init free of a netlink library.
//
// Preconditions: CAP_NET_ADMIN in the user namespace that owns the
// network namespace (the init still has every capability here).
func loopbackUp(spec *specs.Spec) error {
	if !newNetNS(spec) {
		return nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing lo up: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: reading its flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}

// newNetNS says whether the spec asks for a network namespace of its own.
func newNetNS(spec *specs.Spec) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace && ns.Path == "" {
			return true
		}
	}
	return false
}
