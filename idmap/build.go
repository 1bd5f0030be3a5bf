package idmap

import (
	"errors"
	"fmt"
	"math"
)

// Mode selects how container ids are laid over the host ids.
type Mode string

const (
	// ModeAuto maps container 0 to the user's id and container 1 on to the subordinate ranges laid back to back.
	ModeAuto Mode = "auto"
	// ModeKeepID maps the user's id to itself, as podman --userns=keep-id does, and fills the ids below and above it with subordinate ids.
	ModeKeepID Mode = "keep-id"
	// ModeHostSingle maps only container 0 to the user's id, which needs no setuid helper.
	ModeHostSingle Mode = "host-single"
)

// ErrNoSubIDs means the user has no subordinate ids, so the caller can fall back to ModeHostSingle with a warning.
var ErrNoSubIDs = errors.New("no subordinate ids")

// ParseMode parses a --userns value; the empty string means ModeAuto.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "":
		return ModeAuto, nil
	case ModeAuto, ModeKeepID, ModeHostSingle:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown user namespace mode %q (valid: %s, %s, %s)", s, ModeAuto, ModeKeepID, ModeHostSingle)
}

// Build lays the user's id hostID and its subordinate ranges out as the map for mode; the result always passes Validate.
func Build(mode Mode, hostID uint32, ranges []SubIDRange) (Mapping, error) {
	var m Mapping
	switch mode {
	case ModeHostSingle:
		// The ranges are not used, so a broken subuid file must not
		// stop the one mode that works without it.
		m = Mapping{{ContainerID: 0, HostID: hostID, Size: 1}}
	case ModeAuto, ModeKeepID:
		if len(ranges) == 0 {
			return nil, ErrNoSubIDs
		}
		if err := CheckRanges(ranges, hostID); err != nil {
			return nil, fmt.Errorf("building the %s id map: %w", mode, err)
		}
		var total uint64
		for _, r := range ranges {
			total += uint64(r.Count)
		}
		// Both modes map total+1 container ids starting at 0; checking
		// that once here makes every uint32 conversion below safe.
		if total+1 > math.MaxUint32 {
			return nil, fmt.Errorf("building the %s id map: the subordinate ranges hold %d ids, more than a user namespace can map", mode, total)
		}
		if mode == ModeAuto {
			m = buildAuto(hostID, ranges)
		} else {
			if total < uint64(hostID) {
				return nil, fmt.Errorf("building the keep-id id map: keeping id %d needs at least %d subordinate ids (for container ids 0-%d), but only %d are available",
					hostID, hostID, hostID-1, total)
			}
			m = buildKeepID(hostID, ranges)
		}
	default:
		return nil, fmt.Errorf("building an id map: unknown mode %q", mode)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("building the %s id map: %w", mode, err)
	}
	return m, nil
}

// buildAuto maps container 0 to hostID and the ranges from container 1 on.
func buildAuto(hostID uint32, ranges []SubIDRange) Mapping {
	m := Mapping{{ContainerID: 0, HostID: hostID, Size: 1}}
	next := uint32(1)
	for _, r := range ranges {
		m = append(m, Range{ContainerID: next, HostID: r.Start, Size: r.Count})
		next += r.Count
	}
	return m
}

// buildKeepID lays the ranges back to back from container 0, splitting the
// range that reaches hostID so that container hostID maps to itself. The
// caller has checked the ranges hold at least hostID ids.
func buildKeepID(hostID uint32, ranges []SubIDRange) Mapping {
	var m Mapping
	next := uint32(0)
	selfMapped := false
	for _, r := range ranges {
		start, count := r.Start, r.Count
		if !selfMapped && uint64(next)+uint64(count) >= uint64(hostID) {
			before := hostID - next
			if before > 0 {
				m = append(m, Range{ContainerID: next, HostID: start, Size: before})
			}
			m = append(m, Range{ContainerID: hostID, HostID: hostID, Size: 1})
			selfMapped = true
			next = hostID + 1
			start += before
			count -= before
		}
		if count > 0 {
			m = append(m, Range{ContainerID: next, HostID: start, Size: count})
			next += count
		}
	}
	return m
}
