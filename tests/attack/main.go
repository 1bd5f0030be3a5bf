// Command attack runs inside a test container and tries what an escaping
// process would, printing one line per attempt: "WHAT ok" when it worked,
// "WHAT ERRNO" when the kernel refused. The security tests
// (tests/integration/security_test.go) bind-mount it into the container
// and read the lines; it decides nothing itself.
//
//	attack syscalls          the syscalls docker's seccomp profile blocks
//	attack write PATH...     open each PATH for writing (O_WRONLY, no truncation)
//	attack reopen PATH...    open PATH as O_PATH, then reopen it for writing
//	                         through /proc/self/fd (the CVE-2019-5736 trick)
//	attack kill PID...       signal 0 to each PID
//	attack ptrace PID...     PTRACE_ATTACH to each PID
//	attack watchexe SECONDS  read /proc/PID/exe of every process for that
//	                         long; print each target seen once
//	attack tiocsti TEXT      push TEXT and a newline into the terminal on
//	                         fd 0, 1 and 2 with ioctl(TIOCSTI), as if typed
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: attack syscalls|write|reopen|kill|ptrace ARGS")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "syscalls":
		syscalls()
	case "write":
		for _, p := range args {
			fd, err := unix.Open(p, unix.O_WRONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
			report("write "+p, err)
		}
	case "reopen":
		for _, p := range args {
			fd, err := unix.Open(p, unix.O_PATH, 0)
			if err != nil {
				report("reopen "+p, err)
				continue
			}
			w, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_WRONLY, 0)
			if err == nil {
				unix.Close(w)
			}
			unix.Close(fd)
			report("reopen "+p, err)
		}
	case "kill":
		for _, p := range args {
			pid, _ := strconv.Atoi(p)
			report("kill "+p, unix.Kill(pid, 0))
		}
	case "ptrace":
		for _, p := range args {
			pid, _ := strconv.Atoi(p)
			err := unix.PtraceAttach(pid)
			if err == nil {
				unix.PtraceDetach(pid)
			}
			report("ptrace "+p, err)
		}
	case "watchexe":
		secs, _ := strconv.Atoi(args[0])
		watchExe(time.Duration(secs) * time.Second)
	case "tiocsti":
		for fd := 0; fd <= 2; fd++ {
			report("tiocsti "+strconv.Itoa(fd), tiocsti(fd, args[0]+"\n"))
		}
	default:
		fmt.Fprintln(os.Stderr, "attack: unknown command", os.Args[1])
		os.Exit(2)
	}
}

func report(what string, err error) {
	if err == nil {
		fmt.Println(what, "ok")
		return
	}
	if e, ok := err.(unix.Errno); ok {
		fmt.Println(what, unix.ErrnoName(e))
		return
	}
	fmt.Println(what, err)
}

func raw(what string, nr uintptr, a ...uintptr) {
	var v [6]uintptr
	copy(v[:], a)
	_, _, e := unix.RawSyscall6(nr, v[0], v[1], v[2], v[3], v[4], v[5])
	if e == 0 {
		report(what, nil)
	} else {
		report(what, e)
	}
}

func syscalls() {
	raw("unshare-user", unix.SYS_UNSHARE, unix.CLONE_NEWUSER)
	raw("keyctl", unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, ^uintptr(3)+1, 0) // KEY_SPEC_SESSION_KEYRING = -3
	desc := []byte("urun-test\x00")
	typ := []byte("user\x00")
	payload := []byte("x")
	raw("add_key", unix.SYS_ADD_KEY, ptr(typ), ptr(desc), ptr(payload), 1, ^uintptr(3)+1)
	runtime.KeepAlive(typ)
	runtime.KeepAlive(desc)
	runtime.KeepAlive(payload)
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	if e == 0 {
		unix.Close(int(fd))
		report("socket-vsock", nil)
	} else {
		report("socket-vsock", e)
	}
	raw("getpid", unix.SYS_GETPID)
}

func ptr(b []byte) uintptr { return uintptr(unsafePointer(b)) }

// tiocsti pushes text one byte at a time: the first refusal ends it.
func tiocsti(fd int, text string) error {
	for i := 0; i < len(text); i++ {
		b := []byte{text[i]}
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSTI, ptr(b))
		runtime.KeepAlive(b)
		if e != 0 {
			return e
		}
	}
	return nil
}

// watchExe prints every distinct /proc/PID/exe target it sees until d
// has passed: what the container can learn of processes joining it.
func watchExe(d time.Duration) {
	seen := map[string]bool{}
	for end := time.Now().Add(d); time.Now().Before(end); {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if e.Name()[0] < '0' || e.Name()[0] > '9' {
				continue
			}
			if l, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && !seen[l] {
				seen[l] = true
				fmt.Println("exe", l)
			}
		}
	}
}
