package netns

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Attachment connects a container's network namespace to the host: the
// container package's Attachment (Attach(pid) once the init is cloned and
// mapped, Close after it exited).
type Attachment interface {
	Attach(pid int) error
	Close() error
}

// New returns the attachment for mode, or nil when the mode needs none
// (none, host). dir is the container's runtime directory, for the pid
// file and API socket.
func New(mode Mode, ports []Port, dir string) (Attachment, error) {
	switch mode.Driver {
	case None, Host:
		if len(ports) > 0 {
			return nil, fmt.Errorf("-p needs a network to publish from; --network %s has none of its own (use --network pasta or slirp4netns)", mode.Driver)
		}
		return nil, nil
	case Pasta:
		return &pastaNet{mode: mode, ports: ports, dir: dir}, nil
	case Slirp4netns:
		return &slirpNet{mode: mode, ports: ports, dir: dir}, nil
	}
	return nil, fmt.Errorf("unknown network mode %q", mode.Driver)
}

// portError turns a helper's failure into "port in use" when one of the
// ports is taken on the host, the usual cause, which neither helper names.
func portError(ports []Port, err error) error {
	for _, p := range ports {
		if inUse(p) {
			return fmt.Errorf("-p %s: host port %d/%s is already in use; pick another host port or stop what listens there", p, p.HostPort, p.Proto)
		}
	}
	return err
}

func inUse(p Port) bool {
	ip := "0.0.0.0"
	if p.HostIP != nil {
		ip = p.HostIP.String()
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(p.HostPort))
	var err error
	if p.Proto == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			l.Close()
		}
	}
	return errors.Is(err, syscall.EADDRINUSE)
}
