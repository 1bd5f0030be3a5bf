package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/urun-dev/urun/container"
)

// AttachSocket is where a detached -t container's supervisor serves its
// terminal.
func AttachSocket(root, id string) string {
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

// Attach relays the user's terminal to the container's until the
// container ends (its status is returned) or ctrl-p ctrl-q detaches.
func Attach(root, id string) error {
	c, err := net.Dial("unix", AttachSocket(root, id))
	if err != nil {
		return fmt.Errorf("attaching: %w", err)
	}
	defer c.Close()
	if old, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
		defer term.Restore(int(os.Stdin.Fd()), old)
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
	WaitRecorded(root, id)
	st, err := container.Load(root, id)
	if err != nil {
		if errors.Is(err, container.ErrNotExist) {
			return nil // --rm
		}
		return err
	}
	if st.ExitCode != nil {
		return container.ExitStatus(*st.ExitCode)
	}
	return nil
}
