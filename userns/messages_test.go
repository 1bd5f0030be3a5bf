package userns

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair is a connected socketpair as two Conns, closed with the test.
func pair(t *testing.T) (*Conn, *Conn, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fa, fb := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	a, err := NewConn(fa)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewConn(fb)
	if err != nil {
		t.Fatal(err)
	}
	fa.Close()
	t.Cleanup(func() { a.Close(); b.Close(); fb.Close() })
	return a, b, fb
}

// codedErr is an error with an exit status, as container.CodedError.
type codedErr struct {
	msg  string
	code int
}

func (e codedErr) Error() string { return e.msg }
func (e codedErr) ExitCode() int { return e.code }

type payload struct {
	Name  string
	Items []int
}

func TestSendWaitForPayload(t *testing.T) {
	a, b, _ := pair(t)
	want := payload{Name: "x", Items: []int{1, 2, 3}}
	if err := a.Send("thing", want); err != nil {
		t.Fatal(err)
	}
	var got payload
	if err := b.WaitFor("thing", time.Second, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != want.Name || len(got.Items) != 3 || got.Items[2] != 3 {
		t.Errorf("payload %+v, want %+v", got, want)
	}
}

func TestWaitForWrongType(t *testing.T) {
	a, b, _ := pair(t)
	a.Send("other", nil)
	err := b.WaitFor("thing", time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), `got "other"`) {
		t.Errorf("WaitFor of the wrong type: %v", err)
	}
}

// An error carries its exit code across (a CodedError on one side, a
// PeerError with the same code on the other).
func TestSendErrorCarriesCode(t *testing.T) {
	a, b, _ := pair(t)
	a.SendError(codedErr{"nosuch: not found", 127})
	err := b.WaitFor("thing", time.Second, nil)
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Code != 127 || pe.Error() != "nosuch: not found" || pe.ExitCode() != 127 {
		t.Errorf("peer error: %#v", err)
	}
}

func TestReceiveEOF(t *testing.T) {
	a, b, _ := pair(t)
	a.Close()
	if _, err := b.Receive(time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("receive from a closed peer: %v, want EOF", err)
	}
}

// A frame cut short in its header is EOF too (the peer died mid-send).
func TestReceiveShortHeaderIsEOF(t *testing.T) {
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	w := os.NewFile(uintptr(fds[0]), "w")
	r := os.NewFile(uintptr(fds[1]), "r")
	rc, err := NewConn(r)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r.Close()
	w.Write([]byte{0, 0})
	w.Close()
	if _, err := rc.Receive(time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("receive of a 2-byte header: %v, want EOF", err)
	}
}

func TestReceiveSizeLimit(t *testing.T) {
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	w := os.NewFile(uintptr(fds[0]), "w")
	r := os.NewFile(uintptr(fds[1]), "r")
	defer w.Close()
	rc, err := NewConn(r)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r.Close()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], maxMessage+1)
	w.Write(hdr[:])
	if _, err := rc.Receive(time.Second); err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Errorf("receive of an oversized frame: %v", err)
	}
}

func TestReceiveTimeout(t *testing.T) {
	_, b, _ := pair(t)
	err := b.WaitFor("thing", 50*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Errorf("WaitFor with nothing sent: %v", err)
	}
}

func TestReceiveBadJSON(t *testing.T) {
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	w := os.NewFile(uintptr(fds[0]), "w")
	r := os.NewFile(uintptr(fds[1]), "r")
	defer w.Close()
	rc, _ := NewConn(r)
	defer rc.Close()
	r.Close()
	body := []byte("{not json")
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
	w.Write(append(hdr[:], body...))
	if _, err := rc.Receive(time.Second); err == nil || !strings.Contains(err.Error(), "decoding message") {
		t.Errorf("receive of a malformed frame: %v", err)
	}
}

// A descriptor passed with SendFile arrives open, close-on-exec, and the
// stream stays in frames: the next message reads normally.
func TestSendReceiveFile(t *testing.T) {
	a, b, _ := pair(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if err := a.SendFile("console", pw); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	a.Send("after", nil)
	if m, err := b.Receive(time.Second); err != nil || m.Type != "console" {
		t.Fatalf("receive: %v %v", m, err)
	}
	f, err := b.ReceiveFile("pipe")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("received descriptor flags %#x (%v): want close-on-exec", flags, err)
	}
	f.Write([]byte("through"))
	f.Close()
	buf, _ := io.ReadAll(pr)
	if string(buf) != "through" {
		t.Errorf("read %q through the passed descriptor", buf)
	}
	if err := b.WaitFor("after", time.Second, nil); err != nil {
		t.Errorf("the frame after a descriptor: %v", err)
	}
}

// ReceiveFile without a descriptor says so.
func TestReceiveFileMissing(t *testing.T) {
	a, b, _ := pair(t)
	a.Send("console", nil)
	b.Receive(time.Second)
	a.c.Write([]byte{'F'})
	if _, err := b.ReceiveFile("pty"); err == nil || !strings.Contains(err.Error(), "no descriptor") {
		t.Errorf("ReceiveFile with no descriptor: %v", err)
	}
}

func TestFd(t *testing.T) {
	a, _, _ := pair(t)
	fd, err := a.Fd()
	if err != nil || fd < 0 {
		t.Errorf("Fd: %d, %v", fd, err)
	}
}
