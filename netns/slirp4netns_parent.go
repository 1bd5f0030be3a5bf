package netns

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// slirp4netns runs directly rather than through rootlesskit's network
// driver: that driver makes the tap device with `nsenter … ip tuntap`
// (two more processes, and iproute2 on the host) and leaves addresses and
// routes to a rootlesskit child process inside the namespace, which urun
// has not — its init execs the user's program. slirp4netns 1.2.0's
// --configure does that part itself, and --exit-fd ties it to urun: the
// pipe closes when urun dies, however it dies. Published ports go through
// the API socket's add_hostfwd (addHostFwd), as rootlesskit's slirp4netns
// port driver does; that driver is not linked, as its package brings
// net/http, crypto/tls and x509 into every urun start (docs/BENCHMARKS.md,
// issue 25 fourth round).
type slirpNet struct {
	mode  Mode
	ports []Port
	dir   string
	h     *helper
	exitW *os.File
	sock  string
	tmp   string
	ready chan error
}

// Attach starts the helper on the init's namespaces and waits until the
// network is up and the ports are published; on failure nothing is left.
func (s *slirpNet) Attach(pid int) error {
	if err := s.Start(pid); err != nil {
		return err
	}
	return s.Ready()
}

// Start starts slirp4netns on the init's namespaces without waiting for
// it (Ready does); on failure nothing is left.
func (s *slirpNet) Start(pid int) error {
	err := s.start(pid)
	if err != nil {
		s.Close()
	}
	return err
}

// Ready waits until the network is up and the ports are published; on
// failure nothing is left.
func (s *slirpNet) Ready() error {
	err := s.wait()
	if err != nil {
		s.Close()
	}
	return err
}

func (s *slirpNet) start(pid int) error {
	// A unix socket path must fit in 108 bytes; a long runtime
	// directory gets a short temporary one instead.
	s.sock = filepath.Join(s.dir, "slirp.sock")
	if len(s.sock) >= 108 {
		tmp, err := os.MkdirTemp("", "urun-slirp")
		if err != nil {
			return err
		}
		s.tmp = tmp
		s.sock = filepath.Join(tmp, "slirp.sock")
	}
	sock := s.sock
	mtu := s.mode.MTU
	if mtu == 0 {
		mtu = 65520
	}
	exitR, exitW, err := os.Pipe()
	if err != nil {
		return err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		exitR.Close()
		exitW.Close()
		return err
	}
	args := []string{"--configure", "--mtu", strconv.Itoa(mtu),
		"--exit-fd", "3", "--ready-fd", "4", "--api-socket", sock}
	if !s.mode.AllowHostLoopback {
		args = append(args, "--disable-host-loopback")
	}
	if s.mode.Sandbox {
		args = append(args, "--enable-sandbox")
	}
	if s.mode.Seccomp {
		args = append(args, "--enable-seccomp")
	}
	args = append(args, strconv.Itoa(pid), "eth0")
	h, err := startHelper("slirp4netns", args, []*os.File{exitR, readyW})
	exitR.Close()
	readyW.Close()
	if err != nil {
		exitW.Close()
		readyR.Close()
		return err
	}
	s.h, s.exitW = h, exitW
	s.ready = make(chan error, 1)
	go func() {
		defer readyR.Close()
		b := make([]byte, 1)
		_, err := readyR.Read(b)
		s.ready <- err
	}()
	return nil
}

func (s *slirpNet) wait() error {
	if s.h == nil {
		return errors.New("slirp4netns was not started")
	}
	select {
	case err := <-s.ready:
		if err != nil {
			<-s.h.done
			return s.h.failed()
		}
	case <-s.h.done:
		return s.h.failed()
	case <-time.After(readyTimeout):
		return fmt.Errorf("slirp4netns did not set the network up within %v", readyTimeout)
	}
	return s.publish(s.sock)
}

// publish adds the -p forwards through slirp4netns's API socket.
func (s *slirpNet) publish(sock string) error {
	if len(s.ports) == 0 {
		return nil
	}
	for _, p := range s.ports {
		if p.HostIP != nil && p.HostIP.To4() == nil {
			return fmt.Errorf("-p %s: slirp4netns publishes IPv4 host addresses only", p)
		}
		ip := ""
		if p.HostIP != nil {
			ip = p.HostIP.String()
		}
		if err := addHostFwd(sock, p.Proto, ip, p.HostPort, p.ContainerPort); err != nil {
			return portError([]Port{p}, fmt.Errorf("-p %s: slirp4netns: %w", p, err))
		}
	}
	return nil
}

func (s *slirpNet) Close() error {
	if s.exitW != nil {
		// slirp4netns exits when its exit fd closes; stop then reaps it.
		s.exitW.Close()
		s.exitW = nil
	}
	if s.h != nil {
		s.h.release(s.ports)
	}
	if s.sock != "" {
		os.Remove(s.sock)
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
	return nil
}

// addHostFwd asks slirp4netns, through its API socket, to forward the host's
// hostIP:hostPort (every address when hostIP is "") to the container's
// port: one JSON request, the write side shut, one JSON reply (slirp4netns
// 1.2.0's API; rootlesskit's driver speaks the same).
func addHostFwd(sock, proto, hostIP string, hostPort, containerPort int) error {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Net: "unix", Name: sock})
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(readyTimeout))
	type args struct {
		Proto     string `json:"proto"`
		HostAddr  string `json:"host_addr"`
		HostPort  int    `json:"host_port"`
		GuestAddr string `json:"guest_addr"`
		GuestPort int    `json:"guest_port"`
	}
	req := struct {
		Execute   string `json:"execute"`
		Arguments args   `json:"arguments"`
	}{"add_hostfwd", args{proto, hostIP, hostPort, ContainerIP, containerPort}}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	var rep struct {
		Return *struct {
			ID *int `json:"id"`
		} `json:"return"`
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("reading the API socket's reply %q: %w", b, err)
	}
	switch {
	case rep.Error != nil:
		return errors.New(rep.Error.Desc)
	case rep.Return == nil || rep.Return.ID == nil:
		return fmt.Errorf("unexpected reply from the API socket: %q", b)
	}
	return nil
}
