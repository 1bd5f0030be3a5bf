package netns

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pasta is attached by running the program directly, not through
// rootlesskit's pasta driver: with Debian 12's passt (2023-03) that driver
// can publish ports only implicitly (--tcp-ports=auto: same port number,
// every address), its explicit port driver ("pesto") needs passt
// 2026-05, and it lets pasta fork into the background, where no
// Pdeathsig reaches it and nobody reaps it. pasta 2023-03 does not quit
// when a namespace given by pid goes away (only one bound to a file), so
// urun keeps it in the foreground (-f) as its own child with Pdeathsig,
// and takes the pid file, which pasta writes once the namespace is
// configured and the ports are bound, as the ready signal.
type pastaNet struct {
	mode  Mode
	ports []Port
	dir   string
	h     *helper
}

func (p *pastaNet) args(pid int, pidFile string) []string {
	mtu := p.mode.MTU
	if mtu == 0 {
		mtu = 65520
	}
	a := []string{
		"-f", "-q", "--config-net", "-4",
		"--ns-ifname", "eth0",
		"--mtu", strconv.Itoa(mtu),
		"--address", ContainerIP, "--netmask", strconv.Itoa(prefixLen),
		"--gateway", GatewayIP, "--dns-forward", DNSIP,
		// The namespace's loopback never reaches the host's (pasta's
		// default, "auto", forwards every port bound on the host).
		"-T", "none", "-U", "none",
	}
	if !p.mode.AllowHostLoopback {
		// Without this, connections to the gateway address reach the
		// host's loopback.
		a = append(a, "--no-map-gw")
	}
	var tcp, udp []string
	for _, pt := range p.ports {
		spec := fmt.Sprintf("%d:%d", pt.HostPort, pt.ContainerPort)
		if pt.HostIP != nil {
			spec = pt.HostIP.String() + "/" + spec
		}
		if pt.Proto == "udp" {
			udp = append(udp, "-u", spec)
		} else {
			tcp = append(tcp, "-t", spec)
		}
	}
	// pasta's default for both is "auto": every port bound in the
	// container would appear on the host.
	if tcp == nil {
		tcp = []string{"-t", "none"}
	}
	if udp == nil {
		udp = []string{"-u", "none"}
	}
	a = append(a, tcp...)
	a = append(a, udp...)
	a = append(a, p.mode.PastaArgs...)
	return append(a, "-P", pidFile, strconv.Itoa(pid))
}

// Attach starts the helper on the init's namespaces and waits until the
// network is up and the ports are published; on failure nothing is left.
func (p *pastaNet) Attach(pid int) error {
	err := p.attach(pid)
	if err != nil {
		p.Close()
	}
	return err
}

func (p *pastaNet) attach(pid int) error {
	for _, pt := range p.ports {
		if pt.HostIP != nil && pt.HostIP.To4() == nil {
			return fmt.Errorf("-p %s: IPv6 host addresses are not supported with pasta yet", pt)
		}
	}
	pidFile := filepath.Join(p.dir, "pasta.pid")
	h, err := startHelper("pasta", p.args(pid, pidFile), nil)
	if err != nil {
		return err
	}
	p.h = h
	deadline := time.After(readyTimeout)
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 5*time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && strings.TrimSpace(string(b)) != "" {
			return nil
		}
		select {
		case <-h.done:
			return portError(p.ports, h.failed())
		case <-deadline:
			h.stop()
			return fmt.Errorf("pasta did not set the network up within %v: %s", readyTimeout, filterSyslog(h.stderr.String()))
		case <-time.After(wait):
		}
	}
}

func (p *pastaNet) Close() error {
	if p.h != nil {
		p.h.stop()
	}
	return nil
}
