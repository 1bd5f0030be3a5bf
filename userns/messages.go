package userns

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The parent and the child talk over a socketpair in typed, length-prefixed
// JSON messages (as rootlesskit's pkg/messages does): a 4-byte big-endian
// length, then one JSON object. The child never trusts timing, only messages.

// Message types.
const (
	// MsgMapped tells the child its uid_map and gid_map are written.
	MsgMapped = "mapped"
	// MsgError carries a failure from either side, with the text the user sees.
	MsgError = "error"
)

// maxMessage bounds a message so a confused peer cannot make us allocate
// without limit; a container spec is far below it.
const maxMessage = 16 << 20

// Message is one unit of the parent/child protocol.
type Message struct {
	Type string `json:"type"`
	// Error is the human-readable cause for MsgError.
	Error string `json:"error,omitempty"`
	// Code is an exit status the child wants the caller to use (126, 127…).
	Code int `json:"code,omitempty"`
	// Payload is type-specific data, decoded by the receiver.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Conn is one end of the parent/child socketpair.
type Conn struct {
	c net.Conn
}

// NewConn wraps an open socket file; the file is duplicated, so the caller
// may close f afterwards.
func NewConn(f *os.File) (*Conn, error) {
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("using sync socket: %w", err)
	}
	return &Conn{c: c}, nil
}

// Send writes one message. A payload value is marshalled into Payload.
func (c *Conn) Send(typ string, payload any) error {
	m := Message{Type: typ}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return fmt.Errorf("encoding %s message: %w", typ, err)
		}
		m.Payload = b
	}
	return c.SendMessage(m)
}

// SendMessage writes m as one frame.
func (c *Conn) SendMessage(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s message: %w", m.Type, err)
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	if _, err := c.c.Write(buf); err != nil {
		return fmt.Errorf("sending %s message: %w", m.Type, err)
	}
	return nil
}

// Receive reads one message, waiting at most timeout (0: no limit).
// A closed peer gives io.EOF.
func (c *Conn) Receive(timeout time.Duration) (Message, error) {
	var m Message
	if timeout > 0 {
		c.c.SetReadDeadline(time.Now().Add(timeout))
		defer c.c.SetReadDeadline(time.Time{})
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c.c, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return m, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxMessage {
		return m, fmt.Errorf("message of %d bytes is larger than the limit of %d", n, maxMessage)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.c, b); err != nil {
		return m, fmt.Errorf("reading message body: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decoding message: %w", err)
	}
	return m, nil
}

// WaitFor reads the next message and requires it to be of type typ. A
// MsgError from the peer becomes a *PeerError; payload, when non-nil,
// receives the decoded Payload.
func (c *Conn) WaitFor(typ string, timeout time.Duration, payload any) error {
	m, err := c.Receive(timeout)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("waiting for %q message: no answer within %s", typ, timeout)
		}
		return fmt.Errorf("waiting for %q message: %w", typ, err)
	}
	if m.Type == MsgError {
		return &PeerError{Msg: m.Error, Code: m.Code}
	}
	if m.Type != typ {
		return fmt.Errorf("waiting for %q message: got %q", typ, m.Type)
	}
	if payload != nil {
		if err := json.Unmarshal(m.Payload, payload); err != nil {
			return fmt.Errorf("decoding %q message: %w", typ, err)
		}
	}
	return nil
}

// SendError reports err to the peer; Code is taken from a *PeerError or
// an ExitCoder when err carries one.
func (c *Conn) SendError(err error) error {
	m := Message{Type: MsgError, Error: err.Error()}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		m.Code = ec.ExitCode()
	}
	return c.SendMessage(m)
}

// Fd is the socket's descriptor number in this process: a child that
// moves descriptors into place before an exec must know which one not to
// overwrite while it still talks.
func (c *Conn) Fd() (int, error) {
	sc, ok := c.c.(syscall.Conn)
	if !ok {
		return -1, errors.New("sync socket has no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// Close closes this end.
func (c *Conn) Close() error { return c.c.Close() }

// PeerError is a failure the other side reported.
type PeerError struct {
	Msg  string
	Code int
}

func (e *PeerError) Error() string { return e.Msg }

// ExitCode is the status the peer asked the caller to exit with (0: none).
func (e *PeerError) ExitCode() int { return e.Code }

// SendFile sends a message of type typ carrying an open file (the
// container's pty master). The descriptor travels as SCM_RIGHTS on one
// marker byte after the frame, so the stream stays in frames.
func (c *Conn) SendFile(typ string, f *os.File) error {
	if err := c.Send(typ, nil); err != nil {
		return err
	}
	uc, ok := c.c.(*net.UnixConn)
	if !ok {
		return errors.New("sync socket cannot carry descriptors")
	}
	if _, _, err := uc.WriteMsgUnix([]byte{'F'}, unix.UnixRights(int(f.Fd())), nil); err != nil {
		return fmt.Errorf("sending %s descriptor: %w", typ, err)
	}
	return nil
}

// ReceiveFile reads the descriptor that follows a message sent with
// SendFile; call it after Receive returned that message.
func (c *Conn) ReceiveFile(name string) (*os.File, error) {
	uc, ok := c.c.(*net.UnixConn)
	if !ok {
		return nil, errors.New("sync socket cannot carry descriptors")
	}
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("receiving %s descriptor: %w", name, err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receiving %s descriptor: no descriptor sent", name)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receiving %s descriptor: no descriptor sent", name)
	}
	unix.CloseOnExec(fds[0])
	return os.NewFile(uintptr(fds[0]), name), nil
}
