package engine

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/urun-dev/urun/netns"
)

// PublishedPort is one line of `port`: the container's port and where
// the host publishes it.
type PublishedPort struct {
	Private string // "80/tcp"
	Host    string // "127.0.0.1:8080"; 0.0.0.0 when -p gave no address
}

// Ports lists container ref's published ports (its record's -p), as
// podman's port does; private, when given (PORT or PORT/PROTO, tcp by
// default), keeps the ones of that port and refuses a port not
// published.
func Ports(root, ref, private string) ([]PublishedPort, error) {
	_, st, err := Find(root, ref)
	if err != nil {
		return nil, err
	}
	var ports []netns.Port
	if st.Record != "" {
		rec, err := LoadRecord(st.Record)
		if err != nil && !errors.Is(err, errNoRecord) {
			return nil, err
		}
		if rec != nil {
			ports = rec.Network.Ports
		}
	}
	wantPort, wantProto := 0, ""
	if private != "" {
		num, proto, hasProto := strings.Cut(private, "/")
		wantPort, err = strconv.Atoi(num)
		if err != nil || wantPort < 1 || wantPort > 65535 || hasProto && proto != "tcp" && proto != "udp" {
			return nil, fmt.Errorf("port %q: give PORT or PORT/tcp or PORT/udp", private)
		}
		wantProto = "tcp"
		if hasProto {
			wantProto = proto
		}
	}
	var out []PublishedPort
	for _, p := range ports {
		if wantPort != 0 && (p.ContainerPort != wantPort || p.Proto != wantProto) {
			continue
		}
		ip := "0.0.0.0"
		if p.HostIP != nil {
			ip = p.HostIP.String()
		}
		out = append(out, PublishedPort{
			Private: strconv.Itoa(p.ContainerPort) + "/" + p.Proto,
			Host:    net.JoinHostPort(ip, strconv.Itoa(p.HostPort)),
		})
	}
	if wantPort != 0 && len(out) == 0 {
		return nil, fmt.Errorf("failed to find published port %q (see 'urun port %s' for the ones it has)", private, ref)
	}
	return out, nil
}

// PortsColumn is ps's PORTS for a container's published ports, as
// docker and podman print it: IP:HOST->CONTAINER/PROTO, comma-joined,
// with a run of consecutive ports (same address and protocol, host and
// container port both one up, as -p 8000-8002:8000-8002 gives) as one
// range: 0.0.0.0:8000-8002->8000-8002/tcp.
func PortsColumn(ports []netns.Port) string {
	var out []string
	for i := 0; i < len(ports); {
		p := ports[i]
		j := i + 1
		for j < len(ports) && ports[j].Proto == p.Proto && ports[j].HostIP.Equal(p.HostIP) &&
			ports[j].HostPort == p.HostPort+(j-i) && ports[j].ContainerPort == p.ContainerPort+(j-i) {
			j++
		}
		ip := "0.0.0.0"
		if p.HostIP != nil {
			ip = p.HostIP.String()
		}
		if j-i == 1 {
			out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, p.HostPort, p.ContainerPort, p.Proto))
		} else {
			last := ports[j-1]
			out = append(out, fmt.Sprintf("%s:%d-%d->%d-%d/%s", ip, p.HostPort, last.HostPort, p.ContainerPort, last.ContainerPort, p.Proto))
		}
		i = j
	}
	return strings.Join(out, ", ")
}
