package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxConfig bounds config.json: a real one is a few kB.
const maxConfig = 4 << 20

// ParseOCIConfig decodes and checks an OCI bundle's config.json: a
// malformed file gives an error naming the JSON field or byte offset,
// never a panic (FuzzParseOCIConfig).
func ParseOCIConfig(b []byte) (*specs.Spec, error) {
	if len(b) > maxConfig {
		return nil, fmt.Errorf("config.json is %d bytes, more than the %d urun accepts", len(b), maxConfig)
	}
	var spec specs.Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&spec); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return nil, fmt.Errorf("config.json: %s: want a JSON %s, got %s", te.Field, te.Type, te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, errors.New("config.json: incomplete JSON (the file ends before its value does)")
		case errors.As(err, &se):
			return nil, fmt.Errorf("config.json: syntax error at byte %d: %v", se.Offset, se)
		}
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if dec.More() {
		return nil, errors.New("config.json: more than one JSON value")
	}
	if err := checkOCIConfig(&spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

// checkIDRange refuses an id range that is empty or runs past the last
// id (2^32-1): the kernel would refuse the map with a message that pastes
// it whole.
func checkIDRange(r specs.LinuxIDMapping) error {
	const ids = 1 << 32
	switch {
	case r.Size == 0:
		return errors.New("size is 0 (want the number of ids to map)")
	case uint64(r.ContainerID)+uint64(r.Size) > ids:
		return fmt.Errorf("containerID %d + size %d runs past the last id, %d", r.ContainerID, r.Size, uint32(ids-1))
	case uint64(r.HostID)+uint64(r.Size) > ids:
		return fmt.Errorf("hostID %d + size %d runs past the last id, %d", r.HostID, r.Size, uint32(ids-1))
	}
	return nil
}

// checkOCIConfig refuses what urun cannot honour, naming the field.
func checkOCIConfig(s *specs.Spec) error {
	if s.Version == "" {
		return errors.New("config.json: ociVersion is missing")
	}
	if !strings.HasPrefix(s.Version, "1.") {
		return fmt.Errorf("config.json: ociVersion %q: urun supports runtime-spec 1.x", s.Version)
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("config.json: root.path is missing")
	}
	if s.Process == nil {
		return errors.New("config.json: process is missing (urun does not run containers without a process)")
	}
	if len(s.Process.Args) == 0 && s.Process.CommandLine == "" {
		return errors.New("config.json: process.args is empty")
	}
	if s.Process.Cwd == "" || !filepath.IsAbs(s.Process.Cwd) {
		return fmt.Errorf("config.json: process.cwd %q must be an absolute path", s.Process.Cwd)
	}
	if s.Linux == nil {
		return errors.New("config.json: linux is missing (urun runs Linux containers only)")
	}
	// The runtime-spec: a runtime MUST error on a type given twice (which
	// one would win is unsaid).
	seen := map[specs.LinuxNamespaceType]int{}
	for i, ns := range s.Linux.Namespaces {
		if j, dup := seen[ns.Type]; dup {
			return fmt.Errorf("config.json: linux.namespaces[%d]: the %s namespace is listed twice (also at [%d]); list each type once", i, ns.Type, j)
		}
		seen[ns.Type] = i
		switch ns.Type {
		case specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace, specs.IPCNamespace,
			specs.UTSNamespace, specs.UserNamespace, specs.CgroupNamespace:
		case specs.TimeNamespace:
			return fmt.Errorf("config.json: linux.namespaces[%d]: the time namespace is not supported", i)
		default:
			return fmt.Errorf("config.json: linux.namespaces[%d].type %q is not a namespace type", i, ns.Type)
		}
		if ns.Path != "" {
			if why, ok := unjoinable[ns.Type]; ok {
				return fmt.Errorf("config.json: linux.namespaces[%d]: joining a %s namespace by path (%s) is not supported: %s", i, ns.Type, ns.Path, why)
			}
		}
	}
	if err := checkNamespaceNeeds(s); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	for _, maps := range []struct {
		field string
		m     []specs.LinuxIDMapping
	}{{"uidMappings", s.Linux.UIDMappings}, {"gidMappings", s.Linux.GIDMappings}} {
		for i, r := range maps.m {
			if err := checkIDRange(r); err != nil {
				return fmt.Errorf("config.json: linux.%s[%d]: %w", maps.field, i, err)
			}
		}
	}
	for i, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("config.json: mounts[%d].destination %q must be an absolute path", i, m.Destination)
		}
		if err := checkProcMount(m); err != nil {
			return fmt.Errorf("config.json: mounts[%d]: %w", i, err)
		}
	}
	if p := s.Linux.RootfsPropagation; p != "" {
		if _, ok := rootPropagation[p]; !ok {
			return fmt.Errorf("config.json: linux.rootfsPropagation %q: want shared, slave, private or unbindable", p)
		}
	}
	if s.Linux.IntelRdt != nil {
		return errors.New("config.json: linux.intelRdt is not supported")
	}
	if c := s.Process.Capabilities; c != nil {
		sets := []struct {
			name  string
			names []string
		}{{"bounding", c.Bounding}, {"effective", c.Effective}, {"inheritable", c.Inheritable}, {"permitted", c.Permitted}, {"ambient", c.Ambient}}
		for _, set := range sets {
			for i, n := range set.names {
				if _, ok := capNumber(n); !ok {
					return fmt.Errorf("config.json: process.capabilities.%s[%d]: unknown capability %q", set.name, i, n)
				}
			}
		}
	}
	for i, l := range s.Process.Rlimits {
		if _, ok := rlimitResources[l.Type]; !ok {
			return fmt.Errorf("config.json: process.rlimits[%d].type: unknown rlimit %q", i, l.Type)
		}
	}
	return nil
}

// unjoinable says why a namespace type cannot be joined by path; the
// others (network, ipc, uts, cgroup: the init's thread enters them;
// pid: the init is cloned into it) can.
var unjoinable = map[specs.LinuxNamespaceType]string{
	specs.MountNamespace: "urun builds the container's root filesystem in a mount namespace of its own, and pivot_root in a joined one would move the root of every process already in it; " +
		"fix: leave the path out (the container gets a new mount namespace) and share directories with bind mounts",
	specs.UserNamespace: "entering a user namespace needs a single-threaded process (setns(2)), and urun-init is a Go program; " +
		"fix: run urun inside that user namespace (podman does: urun then keeps the namespace it runs in), or leave the path out for a new one",
}

// checkNamespaceNeeds refuses settings that change a namespace the
// container does not have of its own, which would change the host's
// (runc refuses the same configs, and callers match its words).
func checkNamespaceNeeds(s *specs.Spec) error {
	has := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		has[ns.Type] = true
	}
	if s.Hostname != "" && !has[specs.UTSNamespace] {
		return fmt.Errorf("hostname %q: unable to set hostname without a private UTS namespace; fix: add {\"type\": \"uts\"} to linux.namespaces, or remove hostname", s.Hostname)
	}
	if s.Domainname != "" && !has[specs.UTSNamespace] {
		return fmt.Errorf("domainname %q: unable to set domainname without a private UTS namespace; fix: add {\"type\": \"uts\"} to linux.namespaces, or remove domainname", s.Domainname)
	}
	for key := range s.Linux.Sysctl {
		if err := sysctlNamespace(key, has); err != nil {
			return fmt.Errorf("linux.sysctl %q: %w", key, err)
		}
	}
	return nil
}

// ipcSysctls are the kernel.* keys the IPC namespace holds (with fs.mqueue.*).
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// sysctlNamespace tells whether sysctl key lives in a namespace the
// container has (has: the types in linux.namespaces); a key no namespace
// holds would set the host's value.
func sysctlNamespace(key string, has map[specs.LinuxNamespaceType]bool) error {
	need := func(t specs.LinuxNamespaceType, what string) error {
		if has[t] {
			return nil
		}
		return fmt.Errorf("sysctl is not allowed in the host's %s namespace; fix: add {\"type\": \"%s\"} to linux.namespaces, or remove the sysctl", what, t)
	}
	switch {
	case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
		return need(specs.IPCNamespace, "ipc")
	case strings.HasPrefix(key, "net."):
		return need(specs.NetworkNamespace, "network")
	case key == "kernel.domainname":
		return need(specs.UTSNamespace, "uts")
	case key == "kernel.hostname":
		return errors.New("sysctl is not allowed: set hostname in config.json instead")
	}
	return errors.New("sysctl is not in a separate kernel namespace: setting it in a container would set the host's; fix: remove it from linux.sysctl")
}
