package netns

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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
	fifo  *os.File
	ready chan error
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
	if err := p.Start(pid); err != nil {
		return err
	}
	return p.Ready()
}

// Start starts pasta on the init's namespaces and returns without waiting:
// pasta configures the namespace while the init builds the container,
// and Ready waits for it before the init execs. On failure nothing is
// left.
//
// pasta's pid file is a FIFO here: pasta opens it at start and writes its
// pid once the namespace is configured and the ports are bound, so the
// read returns at that moment, with no polling of a regular file (which
// cost up to a poll interval after pasta was done).
func (p *pastaNet) Start(pid int) error {
	err := p.start(pid)
	if err != nil {
		p.Close()
	}
	return err
}

func (p *pastaNet) start(pid int) error {
	for _, pt := range p.ports {
		if pt.HostIP != nil && pt.HostIP.To4() == nil {
			return fmt.Errorf("-p %s: IPv6 host addresses are not supported with pasta yet", pt)
		}
	}
	pidFile := filepath.Join(p.dir, "pasta.pid")
	os.Remove(pidFile)
	if err := unix.Mkfifo(pidFile, 0o600); err != nil {
		return fmt.Errorf("creating pasta's pid FIFO: %w", err)
	}
	// Read and write: our own writer end means the read never sees end
	// of file before pasta opened it (pasta's exit is seen through
	// h.done instead), and pasta's open for writing never blocks.
	fifo, err := os.OpenFile(pidFile, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening pasta's pid FIFO: %w", err)
	}
	p.fifo = fifo
	h, err := startHelper("pasta", p.args(pid, pidFile), nil)
	if err != nil {
		return err
	}
	p.h = h
	p.ready = make(chan error, 1)
	go func() {
		b := make([]byte, 16)
		_, err := fifo.Read(b)
		p.ready <- err
	}()
	return nil
}

// Ready waits until pasta has set the network up and published the
// ports. On failure nothing is left.
func (p *pastaNet) Ready() error {
	err := p.wait()
	if err != nil {
		p.Close()
	}
	return err
}

func (p *pastaNet) wait() error {
	if p.h == nil {
		return errors.New("pasta was not started")
	}
	select {
	case err := <-p.ready:
		if err != nil {
			return fmt.Errorf("reading pasta's pid FIFO: %w", err)
		}
		return nil
	case <-p.h.done:
		return portError(p.ports, p.h.failed())
	case <-time.After(readyTimeout):
		p.h.stop()
		return fmt.Errorf("pasta did not set the network up within %v: %s", readyTimeout, filterSyslog(p.h.stderr.String()))
	}
}

func (p *pastaNet) Close() error {
	if p.h != nil {
		p.h.release(p.ports)
	}
	if p.fifo != nil {
		p.fifo.Close() // ends the reader
		os.Remove(p.fifo.Name())
		p.fifo = nil
	}
	return nil
}

// pastaAVX2 is the AVX2 build of the pasta found at path, when this CPU
// has AVX2 and the package ships one (Debian's passt does, as
// passt.avx2). passt checks the same at start and re-executes itself as
// that file (arch_avx2_exec): starting it directly saves one execve and
// the dynamic loader's work, ~1-2 ms per container here. argv[0] stays
// "pasta", which is what selects pasta's mode.
func pastaAVX2(path string) (string, bool) {
	if !cpuHasAVX2() {
		return "", false
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil || filepath.Ext(real) == ".avx2" {
		return "", false
	}
	avx2 := real + ".avx2"
	if unix.Access(avx2, unix.X_OK) != nil {
		return "", false
	}
	return avx2, true
}

// cpuHasAVX2 reads the kernel's CPU flags (it lists avx2 only when it
// also enabled the AVX state, as passt's own check needs). It is asked
// only when pasta starts: golang.org/x/sys/cpu answers the same from
// CPUID, but probes at package init, in every urun process (CPUID traps
// to the hypervisor on a VM: 0.07 ms of every `urun state` here, against
// 0.02-0.06 ms for this read; docs/BENCHMARKS.md, issue 25 fourth round).
func cpuHasAVX2() bool {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "flags		: fpu vme … avx2 …" (x86; the first CPU's line)
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "flags" {
			return slices.Contains(strings.Fields(v), "avx2")
		}
	}
	return false
}
