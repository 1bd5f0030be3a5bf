package container

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// capabilityNames are the capabilities Linux 6.x knows, indexed by number
// (include/uapi/linux/capability.h).
var capabilityNames = [...]string{
	"CAP_CHOWN",              // 0
	"CAP_DAC_OVERRIDE",       // 1
	"CAP_DAC_READ_SEARCH",    // 2
	"CAP_FOWNER",             // 3
	"CAP_FSETID",             // 4
	"CAP_KILL",               // 5
	"CAP_SETGID",             // 6
	"CAP_SETUID",             // 7
	"CAP_SETPCAP",            // 8
	"CAP_LINUX_IMMUTABLE",    // 9
	"CAP_NET_BIND_SERVICE",   // 10
	"CAP_NET_BROADCAST",      // 11
	"CAP_NET_ADMIN",          // 12
	"CAP_NET_RAW",            // 13
	"CAP_IPC_LOCK",           // 14
	"CAP_IPC_OWNER",          // 15
	"CAP_SYS_MODULE",         // 16
	"CAP_SYS_RAWIO",          // 17
	"CAP_SYS_CHROOT",         // 18
	"CAP_SYS_PTRACE",         // 19
	"CAP_SYS_PACCT",          // 20
	"CAP_SYS_ADMIN",          // 21
	"CAP_SYS_BOOT",           // 22
	"CAP_SYS_NICE",           // 23
	"CAP_SYS_RESOURCE",       // 24
	"CAP_SYS_TIME",           // 25
	"CAP_SYS_TTY_CONFIG",     // 26
	"CAP_MKNOD",              // 27
	"CAP_LEASE",              // 28
	"CAP_AUDIT_WRITE",        // 29
	"CAP_AUDIT_CONTROL",      // 30
	"CAP_SETFCAP",            // 31
	"CAP_MAC_OVERRIDE",       // 32
	"CAP_MAC_ADMIN",          // 33
	"CAP_SYSLOG",             // 34
	"CAP_WAKE_ALARM",         // 35
	"CAP_BLOCK_SUSPEND",      // 36
	"CAP_AUDIT_READ",         // 37
	"CAP_PERFMON",            // 38
	"CAP_BPF",                // 39
	"CAP_CHECKPOINT_RESTORE", // 40
}

// defaultCapabilities is rootless podman's default set (containers.conf).
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

// capNumber is the kernel's number for a capability name as it appears
// in a spec (CAP_ prefix, upper case).
func capNumber(name string) (int, bool) {
	i := slices.Index(capabilityNames[:], name)
	return i, i >= 0
}

// allCapabilities is every known capability, sorted by name.
func allCapabilities() []string {
	all := slices.Clone(capabilityNames[:])
	slices.Sort(all)
	return all
}

// capabilitySets is the process's capabilities, with podman's rules:
// --privileged starts from every capability (and ignores --cap-add and
// --cap-drop, as podman and docker do), otherwise the default set is
// adjusted. A root process holds the set; any other process only keeps it
// as the bounding set, and gets what --cap-add named as effective,
// permitted, inheritable and ambient, because the kernel clears a non-root
// process's permitted set on execve except for ambient capabilities.
func capabilitySets(opts Options, root bool) (*specs.LinuxCapabilities, error) {
	add, addAll, err := normalizeCapList("--cap-add", opts.CapAdd)
	if err != nil {
		return nil, err
	}
	drop, dropAll, err := normalizeCapList("--cap-drop", opts.CapDrop)
	if err != nil {
		return nil, err
	}
	var set []string
	switch {
	case opts.Privileged:
		set = allCapabilities()
	case addAll && dropAll:
		return nil, errors.New("--cap-add ALL and --cap-drop ALL contradict each other; keep one")
	case dropAll:
		set = add
	case addAll:
		for _, c := range allCapabilities() {
			if !slices.Contains(drop, c) {
				set = append(set, c)
			}
		}
	default:
		for _, c := range add {
			if slices.Contains(drop, c) {
				return nil, fmt.Errorf("capability %s is both added and dropped; keep one of --cap-add and --cap-drop", c)
			}
		}
		for _, c := range defaultCapabilities {
			if !slices.Contains(drop, c) {
				set = append(set, c)
			}
		}
		set = append(set, add...)
	}
	set = sortedUnique(set)
	caps := &specs.LinuxCapabilities{Bounding: set}
	if root {
		caps.Effective, caps.Permitted = set, set
		return caps, nil
	}
	var user []string
	if addAll {
		user = set
	} else {
		for _, c := range add {
			if slices.Contains(set, c) {
				user = append(user, c)
			}
		}
		user = sortedUnique(user)
	}
	if len(user) > 0 {
		caps.Effective, caps.Permitted, caps.Inheritable, caps.Ambient = user, user, user, user
	}
	return caps, nil
}

// normalizeCapList normalizes flag values, reporting ALL separately.
func normalizeCapList(flag string, names []string) (caps []string, all bool, err error) {
	for _, n := range names {
		if isAllCaps(n) {
			all = true
			continue
		}
		c, err := NormalizeCapability(n)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", flag, err)
		}
		caps = append(caps, c)
	}
	return caps, all, nil
}

// isAllCaps reports whether a --cap-add/--cap-drop value means every capability.
func isAllCaps(name string) bool {
	return strings.EqualFold(strings.TrimSpace(name), "ALL")
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// KnownCapabilities lists the capabilities urun can name, sorted.
func KnownCapabilities() []string { return allCapabilities() }

// NormalizeCap turns "net_admin" or "NET_ADMIN" into "CAP_NET_ADMIN".
func NormalizeCap(c string) string {
	c = strings.ToUpper(c)
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	return c
}
