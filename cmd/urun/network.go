package main

import (
	"fmt"

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

	mode  netns.Mode
	ports []netns.Port
	etc   netns.EtcConfig
	// files: passwd and group with an entry for the container's user
	// (engine.UserEntries).
	files map[string][]byte
}

func (n *netFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&n.network, "network", "", "network mode: none (loopback only), host, pasta[:OPTIONS] or slirp4netns[:OPTIONS] (default: slirp4netns, or pasta with -p; the one installed; else none)")
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
	// "bridge" is docker's default network: urun's default plays its role.
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

// config is the network the engine records for the container.
func (n *netFlags) config() engine.NetConfig {
	return engine.NetConfig{Mode: n.mode, Ports: n.ports, Etc: n.etc, Files: n.files}
}
