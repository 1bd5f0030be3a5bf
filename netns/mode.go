// Package netns gives a container its network: none (loopback only), host
// (the user's own namespace), or user-mode networking by pasta or
// slirp4netns attached from the host side to the container's network
// namespace, with published ports (-p) and the /etc files that go with it.
package netns

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Driver names a network mode.
type Driver string

// The network modes.
const (
	None        Driver = "none"
	Host        Driver = "host"
	Pasta       Driver = "pasta"
	Slirp4netns Driver = "slirp4netns"
	// Container is --network container:NAME: another container's network
	// namespace, joined (engine/join.go); no helper of its own.
	Container Driver = "container"
)

// Mode is a parsed --network value.
type Mode struct {
	Driver Driver
	// AllowHostLoopback lets the container reach services on the host's
	// loopback through the gateway address (10.0.2.2).
	AllowHostLoopback bool
	// MTU of the container's interface; 0 means 65520.
	MTU int
	// Sandbox and Seccomp are slirp4netns's --enable-sandbox and
	// --enable-seccomp.
	Sandbox, Seccomp bool
	// PastaArgs are extra pasta arguments, as podman passes them.
	PastaArgs []string
	// Defaulted: the user gave no --network; Reason says why Driver was picked.
	Defaulted bool
	Reason    string
}

// ParseMode reads --network: none, host, pasta[:OPTIONS], slirp4netns[:OPTIONS].
// pasta's OPTIONS are comma-separated pasta arguments (podman's form), plus
// allow_host_loopback[=true|false]; slirp4netns's are podman's key=value
// list: allow_host_loopback, mtu, enable_sandbox, enable_seccomp.
func ParseMode(s string) (Mode, error) {
	name, opts, hasOpts := strings.Cut(s, ":")
	m := Mode{Driver: Driver(name)}
	switch m.Driver {
	case None, Host:
		if hasOpts {
			return m, fmt.Errorf("--network %s takes no options (got %q)", name, opts)
		}
		return m, nil
	case Pasta, Slirp4netns:
	case "bridge", "private", "ns", "container", "slirp":
		return m, fmt.Errorf("--network %q is not supported: use none, host, pasta[:OPTIONS] or slirp4netns[:OPTIONS]", s)
	default:
		return m, fmt.Errorf("--network %q: unknown mode (use none, host, pasta[:OPTIONS] or slirp4netns[:OPTIONS])", s)
	}
	if !hasOpts {
		return m, nil
	}
	if opts == "" {
		return m, fmt.Errorf("--network %q: empty option list after %q", s, name+":")
	}
	for _, o := range strings.Split(opts, ",") {
		key, val, hasVal := strings.Cut(o, "=")
		if key == "allow_host_loopback" {
			b, err := parseBool(val, hasVal)
			if err != nil {
				return m, fmt.Errorf("--network %s: allow_host_loopback: %w", name, err)
			}
			m.AllowHostLoopback = b
			continue
		}
		if m.Driver == Pasta {
			if o == "" {
				return m, fmt.Errorf("--network %q: empty pasta argument", s)
			}
			if err := checkPastaArg(o); err != nil {
				return m, fmt.Errorf("--network %q: %w", s, err)
			}
			m.PastaArgs = append(m.PastaArgs, o)
			continue
		}
		var err error
		switch key {
		case "mtu":
			m.MTU, err = strconv.Atoi(val)
			if err == nil && (m.MTU < 68 || m.MTU > 65520) {
				err = errors.New("out of range 68-65520")
			}
		case "enable_sandbox":
			m.Sandbox, err = parseBool(val, hasVal)
		case "enable_seccomp":
			m.Seccomp, err = parseBool(val, hasVal)
		default:
			return m, fmt.Errorf("--network %q: unknown slirp4netns option %q (known: allow_host_loopback, mtu, enable_sandbox, enable_seccomp)", s, key)
		}
		if err != nil {
			return m, fmt.Errorf("--network slirp4netns: %s=%q: %w", key, val, err)
		}
	}
	return m, nil
}

// checkPastaArg refuses arguments urun sets itself: letting them through
// would either break the attachment (foreground, pid file, target) or
// give the container host loopback without saying allow_host_loopback.
func checkPastaArg(a string) error {
	name, _, _ := strings.Cut(a, "=")
	if f, _, ok := strings.Cut(name, " "); ok {
		name = f
	}
	switch name {
	case "-f", "--foreground", "-P", "--pid", "--netns", "--userns", "--netns-only",
		"--config-net", "--no-netns-quit", "-T", "--tcp-ns", "-U", "--udp-ns":
		return fmt.Errorf("pasta argument %q is set by urun (use -p for ports, allow_host_loopback for the host's loopback)", a)
	}
	return nil
}

func parseBool(val string, hasVal bool) (bool, error) {
	if !hasVal {
		return true, nil
	}
	b, err := strconv.ParseBool(val)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", val)
	}
	return b, nil
}

// Port is one -p [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp].
type Port struct {
	HostIP        net.IP // nil: every address
	HostPort      int
	ContainerPort int
	Proto         string // "tcp" or "udp"
}

func (p Port) String() string {
	ip := ""
	if p.HostIP != nil {
		ip = p.HostIP.String() + ":"
		if p.HostIP.To4() == nil {
			ip = "[" + p.HostIP.String() + "]:"
		}
	}
	return fmt.Sprintf("%s%d:%d/%s", ip, p.HostPort, p.ContainerPort, p.Proto)
}

// ParsePort reads one -p value. IPv6 host addresses go in brackets. A
// host port left out (CONTAINERPORT, IP::CONTAINERPORT) is 0: the
// caller picks a free one, as docker does.
func ParsePort(s string) (Port, error) {
	p, hport, cport, err := splitPort(s)
	if err != nil {
		return p, err
	}
	if hport != "" {
		if p.HostPort, err = parsePortNumber(hport); err != nil {
			return p, fmt.Errorf("-p %q: host port: %w", s, err)
		}
	}
	if p.ContainerPort, err = parsePortNumber(cport); err != nil {
		return p, fmt.Errorf("-p %q: container port: %w", s, err)
	}
	return p, nil
}

// ParsePorts reads one -p value that may give ranges, as docker's
// [IP:][H1-H2:]C1-C2[/proto]: one Port per container port, the host
// range (when given) as long as the container's.
func ParsePorts(s string) ([]Port, error) {
	p, hport, cport, err := splitPort(s)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(hport, "-") && !strings.Contains(cport, "-") {
		one, err := ParsePort(s)
		if err != nil {
			return nil, err
		}
		return []Port{one}, nil
	}
	c1, c2, err := parsePortRange(cport)
	if err != nil {
		return nil, fmt.Errorf("-p %q: container port: %w", s, err)
	}
	h1 := 0
	if hport != "" {
		var h2 int
		if h1, h2, err = parsePortRange(hport); err != nil {
			return nil, fmt.Errorf("-p %q: host port: %w", s, err)
		}
		if h2-h1 != c2-c1 {
			return nil, fmt.Errorf("-p %q: the host range has %d ports and the container range %d: give ranges of one length", s, h2-h1+1, c2-c1+1)
		}
	}
	var out []Port
	for c := c1; c <= c2; c++ {
		q := p
		q.ContainerPort = c
		if h1 != 0 {
			q.HostPort = h1 + c - c1
		}
		out = append(out, q)
	}
	return out, nil
}

// parsePortRange reads N or N-M (N <= M).
func parsePortRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := parsePortNumber(a)
	if err != nil || !isRange {
		return lo, lo, err
	}
	hi, err := parsePortNumber(b)
	if err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %q ends before it starts", s)
	}
	return lo, hi, nil
}

// splitPort splits a -p value into its address and protocol (set in the
// returned Port) and its host and container port texts.
func splitPort(s string) (p Port, hport, cport string, err error) {
	p = Port{Proto: "tcp"}
	rest := s
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		p.Proto = rest[i+1:]
		rest = rest[:i]
		if p.Proto != "tcp" && p.Proto != "udp" {
			return p, "", "", fmt.Errorf("-p %q: protocol %q is not tcp or udp", s, p.Proto)
		}
	}
	i := strings.LastIndex(rest, ":")
	cport = rest[i+1:]
	if i < 0 {
		rest = ""
	} else {
		rest = rest[:i]
	}
	hport = rest
	if j := strings.LastIndex(rest, ":"); j >= 0 {
		ip := strings.TrimSuffix(strings.TrimPrefix(rest[:j], "["), "]")
		hport = rest[j+1:]
		if ip != "" {
			if p.HostIP = net.ParseIP(ip); p.HostIP == nil {
				return p, "", "", fmt.Errorf("-p %q: %q is not an IP address", s, ip)
			}
		}
	}
	return p, hport, cport, nil
}

func parsePortNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return n, nil
}

// CheckPorts refuses two -p for the same host address, port and protocol.
func CheckPorts(ports []Port) error {
	seen := map[string]bool{}
	for _, p := range ports {
		k := fmt.Sprintf("%s/%d/%s", p.HostIP, p.HostPort, p.Proto)
		if seen[k] {
			return fmt.Errorf("-p %s: host port %d/%s is published twice", p, p.HostPort, p.Proto)
		}
		seen[k] = true
	}
	return nil
}
