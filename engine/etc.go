package engine

// The files podman gives every container beside /etc/hosts and
// resolv.conf: /run/.containerenv (tools detect a container by it), a
// passwd and group entry for a user the image does not know (`-u 1000`,
// `--userns=keep-id`), and host.containers.internal in /etc/hosts.

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/netns"
	"github.com/urun-dev/urun/userns"
)

// UserEntries returns the image's /etc/passwd and /etc/group with an
// entry added for the container's user and group when the image has
// none, as podman does: programs that look their user up (whoami, ssh,
// git, npm) then work. For `-u N` the entry is podman's (the uid as the
// name, "container user", the working directory as home); for keep-id
// it is yours (your name, uid, gid, and your home where a mount gives
// the container it). Nil when nothing needs
// adding.
func UserEntries(spec *specs.Spec, readFile container.ReadFile, keepID bool) map[string][]byte {
	u := spec.Process.User
	if u.UID == 0 || readFile == nil {
		return nil
	}
	name := strconv.FormatUint(uint64(u.UID), 10)
	gecos, home := "container user", spec.Process.Cwd
	if home == "" {
		home = "/"
	}
	group := strconv.FormatUint(uint64(u.GID), 10)
	if keepID {
		if me, err := userns.CurrentUser(); err == nil && me.Username != "" {
			// podman's: your home where the container has it (a
			// mount), else the working directory.
			name, gecos = me.Username, me.Name
			if slices.ContainsFunc(spec.Mounts, func(m specs.Mount) bool {
				return m.Destination == me.HomeDir || strings.HasPrefix(me.HomeDir, m.Destination+"/") && m.Destination != "/"
			}) {
				home = me.HomeDir
			}
		}
		if g, err := userns.LookupGID(int(u.GID)); err == nil && g.Name != "" {
			group = g.Name
		}
	}
	out := map[string][]byte{}
	if b, err := readFile("/etc/passwd"); err == nil || errors.Is(err, fs.ErrNotExist) {
		if !hasID(b, 2, u.UID) {
			line := fmt.Sprintf("%s:*:%d:%d:%s:%s:/bin/sh\n", name, u.UID, u.GID, gecos, home)
			out["passwd"] = append(withNewline(b), line...)
		}
	}
	if b, err := readFile("/etc/group"); err == nil || errors.Is(err, fs.ErrNotExist) {
		if !hasID(b, 2, u.GID) {
			line := fmt.Sprintf("%s:x:%d:%s\n", group, u.GID, name)
			out["group"] = append(withNewline(b), line...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// hasID tells whether a colon-separated file has id in field i.
func hasID(b []byte, i int, id uint32) bool {
	want := strconv.FormatUint(uint64(id), 10)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, ":"); len(f) > i && f[i] == want {
			return true
		}
	}
	return false
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b
}

// etcMount is the bind mount of a file urun wrote for the container.
func etcMount(dst, src string, ro bool) specs.Mount {
	o := []string{"bind", "rprivate", "nosuid", "nodev", "noexec"}
	if ro {
		o = append(o, "ro")
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: o}
}

// hasMount tells whether the user mounts something of their own at dst
// (or over its directory with a bind).
func hasMount(spec *specs.Spec, dst string) bool {
	return slices.ContainsFunc(spec.Mounts, func(m specs.Mount) bool {
		return m.Destination == dst || m.Type == "bind" && m.Destination == filepath.Dir(dst)
	})
}

// writeExtraEtc writes, into the container's runtime directory dir,
// /run/.containerenv and the passwd and group files of n, and adds their
// mounts to spec; a file the user mounts is left to them.
func (n NetConfig) writeExtraEtc(spec *specs.Spec, dir string, env ContainerEnv) error {
	if !hasMount(spec, "/run/.containerenv") {
		p := filepath.Join(dir, "containerenv")
		text := fmt.Sprintf("engine=%q\nname=%q\nid=%q\nimage=%q\nimageid=%q\nrootless=1\n",
			env.Engine, env.Name, env.ID, env.Image, env.ImageID)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return fmt.Errorf("writing the container's /run/.containerenv: %w", err)
		}
		m := etcMount("/run/.containerenv", p, true)
		m.Options = append(m.Options, container.OptionalMount)
		spec.Mounts = append(spec.Mounts, m)
	}
	for _, name := range []string{"passwd", "group"} {
		b, ok := n.Files[name]
		if !ok || hasMount(spec, "/etc/"+name) {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("writing the container's /etc/%s: %w", name, err)
		}
		spec.Mounts = append(spec.Mounts, etcMount("/etc/"+name, p, false))
	}
	return nil
}

// ContainerEnv is what /run/.containerenv says about the container.
type ContainerEnv struct {
	Engine, Name, ID, Image, ImageID string
	// JoinedDir is the state directory of the container whose network
	// this one shares (--network container:NAME): its /etc files.
	JoinedDir string
}

// EngineName is the engine= of /run/.containerenv ("urun-VERSION"); the
// CLI sets it.
var EngineName = "urun"

// hostNames adds host.containers.internal and host.docker.internal, as
// podman does with pasta and slirp4netns: the host at an address of its
// own the container's outbound traffic reaches (not its loopback).
func hostNames(etc *netns.EtcConfig) {
	if etc.Driver != netns.Pasta && etc.Driver != netns.Slirp4netns {
		return
	}
	ip := hostAddress()
	if ip == nil {
		return
	}
	for _, name := range []string{"host.containers.internal", "host.docker.internal"} {
		if !slices.ContainsFunc(etc.AddHosts, func(h netns.HostEntry) bool { return h.Name == name }) {
			etc.AddHosts = append(etc.AddHosts, netns.HostEntry{Name: name, IP: ip})
		}
	}
}

// hostAddress is the host's first global unicast IPv4 address, or nil.
func hostAddress() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
			return ipn.IP.To4()
		}
	}
	return nil
}
