package container

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setCapabilities sets all five capability sets of this thread to the
// spec's. The init started with every capability as ambient (see package
// userns), so the ambient set is cleared first and only what the spec
// names is raised again.
//
// Preconditions: OS thread locked; called after dropBounding and setUser.
func setCapabilities(c *specs.LinuxCapabilities) error {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	last, err := lastCap()
	if err != nil {
		return err
	}
	eff, err := capMask(c.Effective)
	if err != nil {
		return err
	}
	perm, err := capMask(c.Permitted)
	if err != nil {
		return err
	}
	inh, err := capMask(c.Inheritable)
	if err != nil {
		return err
	}
	amb, err := capMask(c.Ambient)
	if err != nil {
		return err
	}
	// The kernel raises an ambient capability only if it is permitted
	// and inheritable. runc's rootless template lists ambient ones and no
	// inheritable ones, and runc runs it: make them inheritable too, but
	// never beyond what is permitted.
	inh |= amb & perm
	amb &= perm
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(eff), Permitted: uint32(perm), Inheritable: uint32(inh)},
		{Effective: uint32(eff >> 32), Permitted: uint32(perm >> 32), Inheritable: uint32(inh >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("setting capabilities: %w", err)
	}
	for cp := 0; cp <= last; cp++ {
		if amb&(1<<cp) != 0 {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(cp), 0, 0); err != nil {
				return fmt.Errorf("raising ambient capability %d: %w", cp, err)
			}
		}
	}
	return nil
}

// dropBounding removes from the bounding set what the spec does not name.
// It needs CAP_SETPCAP in the effective set, which a switch to a non-root
// user clears, so it runs before setUser (as crun and runc order it).
func dropBounding(c *specs.LinuxCapabilities) error {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	bounding, err := capMask(c.Bounding)
	if err != nil {
		return err
	}
	last, err := lastCap()
	if err != nil {
		return err
	}
	for cp := 0; cp <= last; cp++ {
		if bounding&(1<<cp) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(cp), 0, 0, 0); err != nil {
				return fmt.Errorf("dropping capability %d from the bounding set: %w", cp, err)
			}
		}
	}
	return nil
}

// capMask turns capability names into a bit mask.
func capMask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		cp, ok := capNumber(n)
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		m |= 1 << cp
	}
	return m, nil
}

// lastCap is the highest capability the running kernel knows; names the
// kernel does not know are skipped when dropping.
func lastCap() (int, error) {
	for cp := 63; cp >= 0; cp-- {
		if err := unix.Prctl(unix.PR_CAPBSET_READ, uintptr(cp), 0, 0, 0); err == nil {
			return cp, nil
		}
	}
	return 0, fmt.Errorf("reading the capability bounding set: no capability known")
}
