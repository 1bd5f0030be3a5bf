package container

import (
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urun-dev/urun/userns"
)

// setupConsole gives the process a terminal from the container's own
// devpts instance, so tty(1), ttyname(3) and /dev/console work inside, as
// with runc and crun. The master goes to the parent over the sync socket;
// the terminal side becomes stdin, stdout, stderr and the controlling
// terminal of a new session.
//
// Preconditions: after pivot_root, /dev/pts a new devpts instance.
func setupConsole(conn *userns.Conn, size *specs.Box) error {
	master, err := os.OpenFile("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the container's /dev/pts/ptmx for -t: %w", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlocking pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("reading pty number: %w", err)
	}
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("setting terminal size: %w", err)
		}
	}
	slavePath := "/dev/pts/" + strconv.Itoa(n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", slavePath, err)
	}
	defer unix.Close(slave)
	// urun started the init as a session leader; a process nsenter
	// forked for exec is not one yet.
	if sid, _ := unix.Getsid(0); sid != unix.Getpid() {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("starting a session for the terminal: %w", err)
		}
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("making %s the controlling terminal: %w", slavePath, err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("attaching the terminal: %w", err)
		}
	}
	// /dev/console is the terminal too (a tmpfs /dev starts without it).
	if fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600); err == nil {
		unix.Close(fd)
		if err := unix.Mount(slavePath, "/dev/console", "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding the terminal to /dev/console: %w", err)
		}
	}
	return conn.SendFile(MsgConsole, master)
}
