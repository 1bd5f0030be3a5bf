package main

import (
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/netns"
)

// netFlags are run's network flags: --network, -p, --dns, --add-host.
type netFlags struct {
	network  string
	publish  []string
	dns      []string
	addHosts []string
	// publishAll is -P: the image's EXPOSE ports (publishExposed).
	publishAll bool

	mode netns.Mode
	// joinNet is NAME of --network container:NAME.
	joinNet string
	ports   []netns.Port
	etc     netns.EtcConfig
	// files: passwd and group with an entry for the container's user
	// (engine.UserEntries).
	files map[string][]byte
}

func (n *netFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&n.network, "network", "", "network mode: none (loopback only), host, pasta[:OPTIONS], slirp4netns[:OPTIONS] (default: slirp4netns, or pasta with -p; the one installed; else none), or container:NAME (a running container's)")
	// docker's older spelling.
	fs.StringVar(&n.network, "net", "", "the same as --network")
	fs.StringArrayVarP(&n.publish, "publish", "p", nil, "publish a container port on the host: [IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/tcp|udp] (no HOSTPORT: a free one; a range publishes each port)")
	fs.BoolVarP(&n.publishAll, "publish-all", "P", false, "publish every port the image EXPOSEs on a free host port")
	fs.StringArrayVar(&n.dns, "dns", nil, "DNS server for the container's /etc/resolv.conf")
	fs.StringArrayVar(&n.addHosts, "add-host", nil, "add NAME:IP to the container's /etc/hosts")
}

// parse checks the flags (no I/O but the default mode's probe).
func (n *netFlags) parse(opts *container.Options) error {
	for _, s := range n.publish {
		ps, err := netns.ParsePorts(s)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.HostPort == 0 {
				// -p CONTAINERPORT: a free host port, as docker's.
				if p.HostPort, err = freePort(p.Proto); err != nil {
					return fmt.Errorf("-p %s: finding a free host port: %w", s, err)
				}
			}
			n.ports = append(n.ports, p)
		}
	}
	var err error
	// "bridge" is docker's default network: urun's default plays its role.
	if name, ok := strings.CutPrefix(n.network, "container:"); ok {
		// Another container's network (join.go): its addresses, ports
		// and /etc files are the ones this container gets.
		if name == "" {
			return fmt.Errorf("--network %s: name the container: container:NAME", n.network)
		}
		for _, c := range []struct {
			set  bool
			flag string
		}{{len(n.publish) > 0 || n.publishAll, "-p/-P"}, {len(n.dns) > 0, "--dns"}, {len(n.addHosts) > 0, "--add-host"}} {
			if c.set {
				return fmt.Errorf("%s cannot be combined with --network %s: the network and its /etc files are that container's (give %s to it)", c.flag, n.network, c.flag)
			}
		}
		n.joinNet, n.mode = name, netns.Mode{Driver: netns.Container}
		return nil
	}
	if n.network == "" || n.network == "bridge" || n.network == "default" {
		n.mode = netns.Default(len(n.ports) > 0 || n.publishAll)
	} else if n.mode, err = netns.ParseMode(n.network); err != nil {
		return err
	}
	opts.NetworkHost = n.mode.Driver == netns.Host
	if err := netns.CheckPorts(n.ports); err != nil {
		return err
	}
	if (len(n.ports) > 0 || n.publishAll) && n.mode.Defaulted && n.mode.Driver == netns.None {
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

// config is the network the engine records for the container.
func (n *netFlags) config() engine.NetConfig {
	return engine.NetConfig{Mode: n.mode, Ports: n.ports, Etc: n.etc, Files: n.files}
}

// publishExposed adds, for -P, each port of the image's EXPOSE
// ("80/tcp", "53/udp", "8080") on a free host port, as docker's: the
// kernel picks the port, which the helper then binds.
func (n *netFlags) publishExposed(exposed map[string]struct{}) error {
	if len(exposed) == 0 {
		return nil
	}
	if n.mode.Driver != netns.Pasta && n.mode.Driver != netns.Slirp4netns {
		fmt.Fprintf(os.Stderr, "urun: warning: -P: the %s network has no ports to publish; the image's EXPOSE is ignored\n", n.mode.Driver)
		return nil
	}
	keys := slices.Sorted(maps.Keys(exposed))
	for _, k := range keys {
		port, proto, _ := strings.Cut(k, "/")
		if proto == "" {
			proto = "tcp"
		}
		cport, err := strconv.Atoi(port)
		if err != nil || cport < 1 || cport > 65535 || proto != "tcp" && proto != "udp" {
			return fmt.Errorf("-P: the image's EXPOSE %q is not PORT[/tcp|udp]", k)
		}
		if slices.ContainsFunc(n.ports, func(p netns.Port) bool { return p.ContainerPort == cport && p.Proto == proto }) {
			continue // published with -p already
		}
		hport, err := freePort(proto)
		if err != nil {
			return fmt.Errorf("-P: finding a free host port for %s: %w", k, err)
		}
		n.ports = append(n.ports, netns.Port{HostPort: hport, ContainerPort: cport, Proto: proto})
	}
	return netns.CheckPorts(n.ports)
}

// freePort is a host port the kernel gives out as free now.
func freePort(proto string) (int, error) {
	if proto == "udp" {
		c, err := net.ListenPacket("udp", ":0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
