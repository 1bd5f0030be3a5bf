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
			switch ns.Type {
			case specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace:
			default:
				return fmt.Errorf("config.json: linux.namespaces[%d]: joining a %s namespace by path is not supported (only network, ipc, uts)", i, ns.Type)
			}
		}
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
