package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/container"
)

// attachSocket is where a detached -t container's supervisor serves its
// terminal.
func attachSocket(root, id string) string {
	return filepath.Join(container.Dir(root, id), "attach.sock")
}

// serveConsole is the supervisor's relay for a -t container: the pty's
// output goes to the log and to every attached client, and what clients
// type goes to the pty. It returns when the container's side closes.
func serveConsole(master *os.File, logOut io.Writer, l net.Listener) {
	var mu sync.Mutex
	clients := map[net.Conn]bool{}
	if l != nil {
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				clients[c] = true
				mu.Unlock()
				go func() {
					io.Copy(master, c)
					mu.Lock()
					delete(clients, c)
					mu.Unlock()
					c.Close()
				}()
			}
		}()
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := master.Read(buf)
		if n > 0 {
			logOut.Write(buf[:n])
			mu.Lock()
			for c := range clients {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write(buf[:n]); err != nil {
					c.Close()
					delete(clients, c)
				}
			}
			mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	mu.Lock()
	for c := range clients {
		c.Close()
	}
	mu.Unlock()
}

func init() {
	register("attach", func() *command {
		fs := pflag.NewFlagSet("attach", pflag.ContinueOnError)
		return &command{
			name:  "attach",
			short: "Attach to a detached -t container's terminal (detach: ctrl-p ctrl-q)",
			usage: "attach CONTAINER",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("attach", "exactly one container")
				}
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				id, st, err := findContainer(root, args[0])
				if err != nil {
					return err
				}
				if st.Status != "running" {
					return fmt.Errorf("%w: %s", container.ErrNotRunning, args[0])
				}
				if !st.Tty || st.RunArgs == nil {
					return fmt.Errorf("container %s has no terminal to attach to: attach works for containers started with run -d -t (see 'urun logs -f' for others)", args[0])
				}
				return attach(root, id)
			},
		}
	})
}

// attach relays the user's terminal to the container's until the
// container ends (its status is returned) or ctrl-p ctrl-q detaches.
func attach(root, id string) error {
	c, err := net.Dial("unix", attachSocket(root, id))
	if err != nil {
		return fmt.Errorf("attaching: %w", err)
	}
	defer c.Close()
	if old, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS); err == nil {
		raw := *old
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		unix.IoctlSetTermios(int(os.Stdin.Fd()), unix.TCSETS, &raw)
		defer unix.IoctlSetTermios(int(os.Stdin.Fd()), unix.TCSETS, old)
	}
	detached := make(chan struct{})
	go func() {
		buf := make([]byte, 1024)
		prevCtrlP := false
		for {
			n, err := os.Stdin.Read(buf)
			for i := 0; i < n; i++ {
				if prevCtrlP && buf[i] == 0x11 { // ctrl-p ctrl-q
					close(detached)
					return
				}
				prevCtrlP = buf[i] == 0x10
			}
			if n > 0 {
				c.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	out := make(chan struct{})
	go func() {
		io.Copy(os.Stdout, c)
		close(out)
	}()
	select {
	case <-detached:
		fmt.Fprintf(os.Stderr, "\r\nurun: detached from %.12s\r\n", id)
		return nil
	case <-out:
	}
	waitRecorded(root, id)
	st, err := container.Load(root, id)
	if err != nil {
		if errors.Is(err, container.ErrNotExist) {
			return nil // --rm
		}
		return err
	}
	if st.ExitCode != nil {
		return exitStatus(*st.ExitCode)
	}
	return nil
}
