package container

// docker's and podman's run flags that change the spec beyond the
// process and mounts: --group-add, --shm-size, --sysctl, --device. Pure:
// the image's files come through ReadFile, the host's device nodes
// through the caller's check.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// groupAdd resolves --group-add values (a name in the image's
// /etc/group, or a number) to additional gids.
func groupAdd(values []string, readFile ReadFile) ([]uint32, error) {
	if len(values) == 0 {
		return nil, nil
	}
	var groups []groupEntry
	var out []uint32
	for _, v := range values {
		if v == "keep-groups" {
			return nil, fmt.Errorf("--group-add keep-groups: urun does not keep your supplementary groups (they are not mapped into the user namespace); give the groups by name or number")
		}
		gid, numeric, err := parseID(v)
		if err != nil {
			return nil, fmt.Errorf("--group-add %s: %w", v, err)
		}
		if !numeric {
			if groups == nil {
				if groups, err = readGroup(readFile); err != nil {
					return nil, err
				}
			}
			i := slices.IndexFunc(groups, func(g groupEntry) bool { return g.name == v })
			if i < 0 {
				return nil, fmt.Errorf("--group-add %s: no such group in the image's /etc/group (give a number, or a name listed there)", v)
			}
			gid = groups[i].gid
		}
		if !slices.Contains(out, gid) {
			out = append(out, gid)
		}
	}
	return out, nil
}

// shmSize is --shm-size as /dev/shm's tmpfs size option ("" for the
// default 64m; 0 also means the default, as docker's).
func shmSize(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil || n < 0 {
		return "", fmt.Errorf("--shm-size %q: want a size such as 64m or 1g", s)
	}
	if n == 0 {
		return "", nil
	}
	return fmt.Sprintf("size=%dk", (n+1023)/1024), nil
}

// ParseSysctls reads --sysctl KEY=VALUE values: only sysctls of a
// namespace the container has of its own (IPC: kernel.msg*, kernel.sem,
// kernel.shm*, fs.mqueue.*; network: net.*, unless --network host; UTS:
// kernel.domainname), as docker and podman allow.
func ParseSysctls(values []string, networkHost, ipcHost bool) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, s := range values {
		k, v, ok := strings.Cut(s, "=")
		k = strings.ReplaceAll(strings.TrimSpace(k), "/", ".")
		if !ok || k == "" {
			return nil, fmt.Errorf("--sysctl %q: want KEY=VALUE, e.g. net.ipv4.ip_unprivileged_port_start=0", s)
		}
		switch {
		case ipcSysctls[k], strings.HasPrefix(k, "fs.mqueue."):
			if ipcHost {
				return nil, fmt.Errorf("--sysctl %s: an IPC sysctl needs the container's own IPC namespace, not --ipc host", k)
			}
		case k == "kernel.domainname":
		case strings.HasPrefix(k, "net."):
			if networkHost {
				return nil, fmt.Errorf("--sysctl %s: a net.* sysctl needs the container's own network namespace, not --network host", k)
			}
		default:
			return nil, fmt.Errorf("--sysctl %s: not namespaced, it would change the host (allowed: net.*, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, kernel.domainname)", k)
		}
		out[k] = v
	}
	return out, nil
}

// Device is one --device HOST[:CONTAINER][:PERMISSIONS] value.
type Device struct {
	Host, Container string
	ReadOnly        bool
}

// ParseDevice reads --device HOST[:CONTAINER][:PERMISSIONS]
// (PERMISSIONS: a combination of r, w, m; without w the node is bound
// read-only).
func ParseDevice(s string) (Device, error) {
	parts := strings.Split(s, ":")
	bad := func(why string) error {
		return fmt.Errorf("--device %q: %s (want HOST[:CONTAINER][:PERMISSIONS], e.g. /dev/fuse or /dev/fuse:/dev/fuse:rw)", s, why)
	}
	if len(parts) > 3 || parts[0] == "" {
		return Device{}, bad("malformed")
	}
	d := Device{Host: parts[0], Container: parts[0]}
	perms := ""
	switch len(parts) {
	case 2:
		if strings.HasPrefix(parts[1], "/") {
			d.Container = parts[1]
		} else {
			perms = parts[1]
		}
	case 3:
		d.Container, perms = parts[1], parts[2]
	}
	if !strings.HasPrefix(d.Host, "/") || !strings.HasPrefix(d.Container, "/dev/") {
		return Device{}, bad("the host path must be absolute and the container path under /dev")
	}
	if perms != "" {
		if strings.Trim(perms, "rwm") != "" {
			return Device{}, bad("permissions are a combination of r, w and m")
		}
		d.ReadOnly = !strings.Contains(perms, "w")
	}
	return d, nil
}

// Mount is the bind mount that gives the container the host's node: a
// rootless process cannot mknod, so podman binds the node (it opens
// only where the user may open the host's).
func (d Device) Mount() specs.Mount {
	o := []string{"bind", "rprivate", "nosuid", "noexec"}
	if d.ReadOnly {
		o = append(o, "ro")
	}
	return specs.Mount{Destination: d.Container, Type: "bind", Source: d.Host, Options: o}
}

// ParseNamespaceMode reads --ipc, --pid or --uts (flag): "" or private
// (the container's own; ipc also takes docker's shareable), host (the
// host's; not for uts, whose host namespace a user namespace cannot
// enter), or container:NAME (target: the namespace of container NAME,
// joined from inside its user namespace).
func ParseNamespaceMode(flag, v string) (host bool, target string, err error) {
	switch {
	case v == "", v == "private", flag == "--ipc" && v == "shareable":
		return false, "", nil
	case v == "host" && flag == "--uts":
		return false, "", fmt.Errorf("--uts host: not supported: the container's user namespace does not own the host's UTS namespace; use private or container:NAME")
	case v == "host":
		return true, "", nil
	case strings.HasPrefix(v, "container:"):
		if target = strings.TrimPrefix(v, "container:"); target == "" {
			return false, "", fmt.Errorf("%s %s: name the container: container:NAME", flag, v)
		}
		return false, target, nil
	}
	if flag == "--uts" {
		return false, "", fmt.Errorf("%s %q: use private or container:NAME", flag, v)
	}
	return false, "", fmt.Errorf("%s %q: use private, host or container:NAME", flag, v)
}
