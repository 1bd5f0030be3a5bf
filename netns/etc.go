package netns

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The addresses pasta and slirp4netns give the container (slirp4netns's
// defaults, which urun also asks of pasta so both look the same inside).
const (
	ContainerIP = "10.0.2.100"
	GatewayIP   = "10.0.2.2" // the host, when allow_host_loopback is set
	DNSIP       = "10.0.2.3" // the helper's DNS forwarder
	prefixLen   = 24
)

// HostEntry is one --add-host NAME:IP.
type HostEntry struct {
	Name string
	IP   net.IP
}

// ParseAddHost reads --add-host NAME:IP (docker's form; NAME=IP too). The
// name is split at the first separator, so IPv6 addresses need no brackets.
func ParseAddHost(s string) (HostEntry, error) {
	i := strings.IndexAny(s, ":=")
	if i <= 0 {
		return HostEntry{}, fmt.Errorf("--add-host %q: want NAME:IP", s)
	}
	name, ip := s[:i], strings.TrimSuffix(strings.TrimPrefix(s[i+1:], "["), "]")
	if !validHostName(name) {
		return HostEntry{}, fmt.Errorf("--add-host %q: %q is not a host name", s, name)
	}
	e := HostEntry{Name: name, IP: net.ParseIP(ip)}
	if e.IP == nil {
		return HostEntry{}, fmt.Errorf("--add-host %q: %q is not an IP address", s, ip)
	}
	return e, nil
}

// ParseDNS reads one --dns address.
func ParseDNS(s string) (net.IP, error) {
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("--dns %q is not an IP address", s)
	}
	return ip, nil
}

func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// EtcConfig is what the container's /etc/hosts, /etc/resolv.conf and
// /etc/hostname are made from.
type EtcConfig struct {
	Hostname string
	Driver   Driver
	DNS      []net.IP
	AddHosts []HostEntry
	// HostResolv and HostHosts are the host's files (resolv.conf for its
	// search and options lines; hosts only for --network host).
	HostResolv []byte
	HostHosts  []byte
}

// Hosts renders /etc/hosts: localhost, the container's own name on its
// address, then --add-host entries (podman's order). With --network host it
// starts from the host's file, as the container shares its addresses.
func Hosts(c EtcConfig) []byte {
	var b bytes.Buffer
	if c.Driver == Host && len(c.HostHosts) > 0 {
		b.Write(c.HostHosts)
		if !bytes.HasSuffix(c.HostHosts, []byte("\n")) {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	}
	self := "127.0.1.1"
	if c.Driver == Pasta || c.Driver == Slirp4netns {
		self = ContainerIP
	}
	if c.Hostname != "" {
		fmt.Fprintf(&b, "%s\t%s\n", self, c.Hostname)
	}
	for _, h := range c.AddHosts {
		fmt.Fprintf(&b, "%s\t%s\n", h.IP, h.Name)
	}
	return b.Bytes()
}

// Resolv renders /etc/resolv.conf: --dns servers, else the helper's DNS
// forwarder (pasta, slirp4netns), else the host's servers; the host's
// search and options lines are kept.
func Resolv(c EtcConfig) []byte {
	var servers, rest []string
	for _, line := range strings.Split(string(c.HostResolv), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "nameserver":
			servers = append(servers, f[1])
		case len(f) >= 2 && (f[0] == "search" || f[0] == "domain" || f[0] == "options"):
			rest = append(rest, strings.Join(f, " "))
		}
	}
	switch {
	case len(c.DNS) > 0:
		servers = servers[:0]
		for _, ip := range c.DNS {
			servers = append(servers, ip.String())
		}
	case c.Driver == Pasta || c.Driver == Slirp4netns:
		servers = []string{DNSIP}
	}
	var b strings.Builder
	for _, r := range rest {
		b.WriteString(r + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	return []byte(b.String())
}

// etcFiles are the files WriteEtc writes, by their /etc name.
var etcFiles = []string{"hosts", "resolv.conf", "hostname"}

// SharedEtc binds the /etc files WriteEtc wrote into another container's
// runtime directory dir: a container that shares its network sees the
// same names and servers (docker's --network container:).
func SharedEtc(dir string) []specs.Mount {
	var mounts []specs.Mount
	for _, name := range etcFiles {
		mounts = append(mounts, specs.Mount{
			Destination: "/etc/" + name, Type: "bind", Source: filepath.Join(dir, name),
			Options: []string{"bind", "rprivate", "nosuid", "nodev", "noexec"},
		})
	}
	return mounts
}

// WriteEtc writes hosts, resolv.conf and hostname into dir (the
// container's runtime directory) and returns the bind mounts that put them
// at /etc in the container, as podman does from its userdata directory.
func WriteEtc(dir string, c EtcConfig) ([]specs.Mount, error) {
	files := []struct {
		name string
		data []byte
	}{
		{"hosts", Hosts(c)},
		{"resolv.conf", Resolv(c)},
		{"hostname", []byte(c.Hostname + "\n")},
	}
	var mounts []specs.Mount
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		// 0644: the container's users other than root read them too.
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return nil, fmt.Errorf("writing the container's /etc/%s: %w", f.name, err)
		}
		mounts = append(mounts, specs.Mount{
			Destination: "/etc/" + f.name, Type: "bind", Source: p,
			Options: []string{"bind", "rprivate", "nosuid", "nodev", "noexec"},
		})
	}
	return mounts, nil
}
