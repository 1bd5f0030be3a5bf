package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/netns"
)

// netFlags are run's network flags: --network, -p, --dns, --add-host.
type netFlags struct {
	network  string
	publish  []string
	dns      []string
	addHosts []string

	mode  netns.Mode
	ports []netns.Port
	etc   netns.EtcConfig
	// etcFiles are further /etc files the container gets (passwd and
	// group with an entry for its user, see userEntries).
	etcFiles map[string][]byte
}

func (n *netFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&n.network, "network", "", "network mode: none (loopback only), host, pasta[:OPTIONS] or slirp4netns[:OPTIONS] (default: slirp4netns, or pasta with -p; the one installed; else none); bridge: the default")
	// docker's older spelling.
	fs.StringVar(&n.network, "net", "", "the same as --network")
	fs.StringArrayVarP(&n.publish, "publish", "p", nil, "publish a container port on the host: [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]")
	fs.StringArrayVar(&n.dns, "dns", nil, "DNS server for the container's /etc/resolv.conf")
	fs.StringArrayVar(&n.addHosts, "add-host", nil, "add NAME:IP to the container's /etc/hosts")
}

// parse checks the flags (no I/O but the default mode's probe).
func (n *netFlags) parse(opts *container.Options) error {
	for _, s := range n.publish {
		p, err := netns.ParsePort(s)
		if err != nil {
			return err
		}
		n.ports = append(n.ports, p)
	}
	var err error
	// "bridge" is docker's default network: urun's default plays its role
	// (outbound traffic, -p), as podman maps it rootless.
	if n.network == "" || n.network == "bridge" || n.network == "default" {
		n.mode = netns.Default(len(n.ports) > 0)
	} else if n.mode, err = netns.ParseMode(n.network); err != nil {
		return err
	}
	opts.NetworkHost = n.mode.Driver == netns.Host
	if err := netns.CheckPorts(n.ports); err != nil {
		return err
	}
	if len(n.ports) > 0 && n.mode.Defaulted && n.mode.Driver == netns.None {
		return fmt.Errorf("-p needs pasta or slirp4netns, and neither can run here: %s", n.mode.Reason)
	}
	for _, s := range n.dns {
		ip, err := netns.ParseDNS(s)
		if err != nil {
			return err
		}
		n.etc.DNS = append(n.etc.DNS, ip)
	}
	for _, s := range n.addHosts {
		h, err := netns.ParseAddHost(s)
		if err != nil {
			return err
		}
		n.etc.AddHosts = append(n.etc.AddHosts, h)
	}
	return nil
}

// setup writes the container's /etc files into its runtime directory dir,
// adds their mounts to the spec, and returns the network attachment (none
// for none and host).
func (n *netFlags) setup(spec *specs.Spec, dir string) ([]container.Attachment, error) {
	if n.mode.Defaulted && n.mode.Driver == netns.None {
		fmt.Fprintln(os.Stderr, "urun: warning:", n.mode.Reason)
	}
	n.etc.Hostname = spec.Hostname
	n.etc.Driver = n.mode.Driver
	n.etc.HostResolv, _ = os.ReadFile("/etc/resolv.conf")
	if n.mode.Driver == netns.Pasta || n.mode.Driver == netns.Slirp4netns {
		// As podman: the host by a name, at an address of the host the
		// container's outbound traffic reaches (not its loopback).
		if ip := hostAddress(); ip != nil {
			for _, name := range []string{"host.containers.internal", "host.docker.internal"} {
				if !slices.ContainsFunc(n.etc.AddHosts, func(h netns.HostEntry) bool { return h.Name == name }) {
					n.etc.AddHosts = append(n.etc.AddHosts, netns.HostEntry{Name: name, IP: ip})
				}
			}
		}
	}
	if n.mode.Driver == netns.Host {
		n.etc.HostHosts, _ = os.ReadFile("/etc/hosts")
	}
	mounts, err := netns.WriteEtc(dir, n.etc)
	if err != nil {
		return nil, err
	}
	spec.Mounts = append(spec.Mounts, mounts...)
	if err := addContainerEnv(spec, dir); err != nil {
		return nil, err
	}
	for _, name := range []string{"passwd", "group"} {
		b, ok := n.etcFiles[name]
		if !ok || slices.ContainsFunc(spec.Mounts, func(m specs.Mount) bool { return m.Destination == "/etc/"+name }) {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, fmt.Errorf("writing the container's /etc/%s: %w", name, err)
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: p,
			Options: []string{"bind", "rprivate", "nosuid", "nodev", "noexec"}})
	}
	a, err := netns.New(n.mode, n.ports, dir)
	if err != nil || a == nil {
		return nil, err
	}
	return []container.Attachment{a}, nil
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

// addContainerEnv gives the container podman's /run/.containerenv, the
// file tools look for to know they run in a container.
func addContainerEnv(spec *specs.Spec, dir string) error {
	for _, m := range spec.Mounts {
		if m.Destination == "/run/.containerenv" || m.Destination == "/run" && m.Type == "bind" {
			return nil // the user's own
		}
	}
	p := filepath.Join(dir, "containerenv")
	text := fmt.Sprintf("engine=\"urun-%s\"\nid=%q\nrootless=1\n", version, filepath.Base(dir))
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		return fmt.Errorf("writing the container's /run/.containerenv: %w", err)
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/run/.containerenv", Type: "bind", Source: p,
		Options: []string{"bind", "rprivate", "nosuid", "nodev", "noexec", "ro"}})
	return nil
}
