package container

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/idmap"
)

// Rootless OCI id maps. A config's linux.uidMappings name host ids. Run
// by an ordinary user, urun can only map the user's own id and the
// user's subordinate ids. A config whose host ids lie in those ranges is
// used as it is; any other is read in the user's rootless id space, the
// one `podman unshare` and the user's own auto map show: 0 is the user,
// 1… are the subordinate ids in order. That is what a config written for
// rootless podman or for a runtime started inside such a namespace means.

// ownsHostIDs: every host id of cfg is one of outer's host ids.
func ownsHostIDs(cfg []specs.LinuxIDMapping, outer idmap.Mapping) bool {
	for _, r := range cfg {
		if _, err := walk(r.HostID, r.Size, outer, true); err != nil {
			return false
		}
	}
	return true
}

// ComposeIDMaps maps cfg's host ids through outer (container side to host
// side): the result maps the same container ids to real host ids.
func ComposeIDMaps(cfg []specs.LinuxIDMapping, outer idmap.Mapping) ([]specs.LinuxIDMapping, error) {
	var out []specs.LinuxIDMapping
	for _, r := range cfg {
		parts, err := walk(r.HostID, r.Size, outer, false)
		if err != nil {
			return nil, fmt.Errorf("mapping %d-%d: %w", r.HostID, uint64(r.HostID)+uint64(r.Size)-1, err)
		}
		c := r.ContainerID
		for _, p := range parts {
			out = append(out, specs.LinuxIDMapping{ContainerID: c, HostID: p.HostID, Size: p.Size})
			c += p.Size
		}
	}
	return out, nil
}

// walk splits the ids [start, start+size) along m's ranges, on the host
// side (host true) or the container side, and returns the pieces as
// ranges whose HostID is the translated (container side) or unchanged
// (host side) start.
func walk(start, size uint32, m idmap.Mapping, host bool) ([]idmap.Range, error) {
	var out []idmap.Range
	cur, left := uint64(start), uint64(size)
	for left > 0 {
		found := false
		for _, r := range m {
			from := uint64(r.ContainerID)
			if host {
				from = uint64(r.HostID)
			}
			if cur < from || cur >= from+uint64(r.Size) {
				continue
			}
			n := min(left, from+uint64(r.Size)-cur)
			h := uint64(r.HostID) + (cur - from)
			if host {
				h = cur
			}
			out = append(out, idmap.Range{HostID: uint32(h), Size: uint32(n)})
			cur += n
			left -= n
			found = true
			break
		}
		if !found {
			return nil, fmt.Errorf("id %d is outside the user's ids (%s)", cur, m)
		}
	}
	return out, nil
}

// RootlessIDMaps returns the maps to write for a config's own maps when
// urun runs unprivileged (see the top of this file), given the user's
// auto maps.
func RootlessIDMaps(uids, gids []specs.LinuxIDMapping, autoUID, autoGID idmap.Mapping) ([]specs.LinuxIDMapping, []specs.LinuxIDMapping, error) {
	if ownsHostIDs(uids, autoUID) && ownsHostIDs(gids, autoGID) {
		return uids, gids, nil
	}
	u, err := ComposeIDMaps(uids, autoUID)
	if err != nil {
		return nil, nil, fmt.Errorf("linux.uidMappings: %w", err)
	}
	g, err := ComposeIDMaps(gids, autoGID)
	if err != nil {
		return nil, nil, fmt.Errorf("linux.gidMappings: %w", err)
	}
	return u, g, nil
}

// HostRootWarning is one line for a config that maps a container id to
// host id 0 (root) when urun runs unprivileged: it cannot be honoured as
// written, and RootlessIDMaps reads it in the user's rootless id space,
// where host 0 is the user. Empty when no range starts at or covers
// host 0, or when the user's maps own host 0.
func HostRootWarning(field string, cfg []specs.LinuxIDMapping, outer idmap.Mapping) string {
	for _, r := range cfg {
		if r.HostID != 0 || ownsHostIDs([]specs.LinuxIDMapping{{HostID: 0, Size: 1}}, outer) {
			continue
		}
		as := "outside your ids"
		if m, err := ComposeIDMaps([]specs.LinuxIDMapping{{ContainerID: r.ContainerID, HostID: 0, Size: 1}}, outer); err == nil && len(m) == 1 {
			as = fmt.Sprintf("your own id %d", m[0].HostID)
		}
		return fmt.Sprintf("config.json's linux.%s map container id %d to host id 0 (root), which an ordinary user cannot map: urun reads host ids in your rootless id space, so it is %s", field, r.ContainerID, as)
	}
	return ""
}

// MappingFromSpec is a spec's id mapping as idmap's ranges.
func MappingFromSpec(m []specs.LinuxIDMapping) idmap.Mapping {
	out := make(idmap.Mapping, len(m))
	for i, r := range m {
		out[i] = idmap.Range{ContainerID: r.ContainerID, HostID: r.HostID, Size: r.Size}
	}
	return out
}
