// Package idmap turns subordinate id ranges (/etc/subuid, /etc/subgid or
// shadow's getsubids) into the id mapping of a rootless user namespace and
// formats it for newuidmap/newgidmap and fuse-overlayfs.
package idmap

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxLines is the kernel's limit on the number of lines in one uid_map or gid_map.
const MaxLines = 340

// Range is one line of a uid_map/gid_map: Size ids starting at ContainerID inside map to HostID outside.
type Range struct{ ContainerID, HostID, Size uint32 }

// Mapping is a whole uid_map or gid_map.
type Mapping []Range

// fits reports whether count ids starting at start stay within what the
// kernel accepts: it rejects an extent whose first+count wraps or reaches
// 2^32, so 4294967295 ((uid_t)-1) can never be mapped.
func fits(start, count uint32) bool {
	return uint64(start)+uint64(count) <= math.MaxUint32
}

// last is the last id of count ids starting at start; count must be > 0.
func last(start, count uint32) uint64 {
	return uint64(start) + uint64(count) - 1
}

// overlap reports whether [a, a+n) and [b, b+m) share an id.
func overlap(a, n, b, m uint32) bool {
	return uint64(a) <= last(b, m) && uint64(b) <= last(a, n)
}

// Validate reports the first reason the kernel would refuse m, so a bad map
// is caught with a clear message before newuidmap gives a vague one.
func (m Mapping) Validate() error {
	if len(m) == 0 {
		return fmt.Errorf("map has no lines")
	}
	if len(m) > MaxLines {
		return fmt.Errorf("map has %d lines, more than the kernel's limit of %d", len(m), MaxLines)
	}
	for i, r := range m {
		if r.Size == 0 {
			return fmt.Errorf("map line %d (%d %d %d) maps no ids", i+1, r.ContainerID, r.HostID, r.Size)
		}
		if !fits(r.ContainerID, r.Size) {
			return fmt.Errorf("map line %d (%d %d %d) goes past container id %d", i+1, r.ContainerID, r.HostID, r.Size, uint32(math.MaxUint32-1))
		}
		if !fits(r.HostID, r.Size) {
			return fmt.Errorf("map line %d (%d %d %d) goes past host id %d", i+1, r.ContainerID, r.HostID, r.Size, uint32(math.MaxUint32-1))
		}
	}
	for i := range m {
		for j := i + 1; j < len(m); j++ {
			a, b := m[i], m[j]
			if overlap(a.ContainerID, a.Size, b.ContainerID, b.Size) {
				return fmt.Errorf("map lines %d and %d overlap on the container side (ids %d-%d and %d-%d)",
					i+1, j+1, a.ContainerID, last(a.ContainerID, a.Size), b.ContainerID, last(b.ContainerID, b.Size))
			}
			if overlap(a.HostID, a.Size, b.HostID, b.Size) {
				return fmt.Errorf("map lines %d and %d overlap on the host side (ids %d-%d and %d-%d)",
					i+1, j+1, a.HostID, last(a.HostID, a.Size), b.HostID, last(b.HostID, b.Size))
			}
		}
	}
	return nil
}

// ToHost returns the host id that container id id maps to, and false when id is not mapped.
func (m Mapping) ToHost(id uint32) (uint32, bool) {
	for _, r := range m {
		if id >= r.ContainerID && uint64(id) < uint64(r.ContainerID)+uint64(r.Size) {
			// Computed in 64 bits so an invalid map cannot wrap around.
			h := uint64(r.HostID) + uint64(id-r.ContainerID)
			if h > math.MaxUint32 {
				return 0, false
			}
			return uint32(h), true
		}
	}
	return 0, false
}

// ToContainer returns the container id that host id id maps to, and false when id is not mapped.
func (m Mapping) ToContainer(id uint32) (uint32, bool) {
	for _, r := range m {
		if id >= r.HostID && uint64(id) < uint64(r.HostID)+uint64(r.Size) {
			c := uint64(r.ContainerID) + uint64(id-r.HostID)
			if c > math.MaxUint32 {
				return 0, false
			}
			return uint32(c), true
		}
	}
	return 0, false
}

// Size returns the total number of ids m maps; it is 64 bits because a full map holds 2^32-1 ids and invalid ones may hold more.
func (m Mapping) Size() uint64 {
	var n uint64
	for _, r := range m {
		n += uint64(r.Size)
	}
	return n
}

// String formats m exactly as the kernel shows /proc/PID/uid_map, so tests can compare with that file byte for byte.
func (m Mapping) String() string {
	var b strings.Builder
	for _, r := range m {
		fmt.Fprintf(&b, "%10d %10d %10d\n", r.ContainerID, r.HostID, r.Size)
	}
	return b.String()
}

// ParseProcMap parses the text of /proc/PID/uid_map or gid_map; it does not Validate, so it can also read back what a broken setup produced.
func ParseProcMap(s string) (Mapping, error) {
	var m Mapping
	for i, line := range strings.Split(s, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return nil, fmt.Errorf("parsing id map line %d %q: expected 3 fields, got %d", i+1, line, len(fields))
		}
		var nums [3]uint32
		for k, f := range fields {
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("parsing id map line %d %q: %w", i+1, line, err)
			}
			nums[k] = uint32(n)
		}
		m = append(m, Range{ContainerID: nums[0], HostID: nums[1], Size: nums[2]})
	}
	return m, nil
}

// HelperArgs returns the arguments after the program name for newuidmap/newgidmap: the pid, then container, host and size of each line.
func (m Mapping) HelperArgs(pid int) []string {
	args := []string{strconv.Itoa(pid)}
	for _, r := range m {
		args = append(args,
			strconv.FormatUint(uint64(r.ContainerID), 10),
			strconv.FormatUint(uint64(r.HostID), 10),
			strconv.FormatUint(uint64(r.Size), 10))
	}
	return args
}

// FuseOverlayOption returns m as "c:h:n:c:h:n", the value of fuse-overlayfs's uidmapping= and gidmapping= options.
func (m Mapping) FuseOverlayOption() string {
	parts := make([]string, 0, 3*len(m))
	for _, r := range m {
		parts = append(parts,
			strconv.FormatUint(uint64(r.ContainerID), 10),
			strconv.FormatUint(uint64(r.HostID), 10),
			strconv.FormatUint(uint64(r.Size), 10))
	}
	return strings.Join(parts, ":")
}
