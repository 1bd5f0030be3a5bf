package engine

import (
	"bufio"
	"debug/elf"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urun-dev/urun/container"
)

func TestSharedKeyIgnoresShellState(t *testing.T) {
	t.Setenv("PWD", "/a")
	a := sharedKey()
	t.Setenv("PWD", "/b")
	t.Setenv("OLDPWD", "/c")
	if b := sharedKey(); a != b {
		t.Errorf("the key changed with PWD/OLDPWD: %s, %s", a, b)
	}
	t.Setenv("URUN_DATA_DIR", "/elsewhere")
	if c := sharedKey(); c == a {
		t.Error("the key did not change with the environment")
	}
}

func TestParseReport(t *testing.T) {
	err := parseReport([]byte("err 127 urun: sh: not found"))
	var ce *container.CodedError
	if !errors.As(err, &ce) || ce.Code != 127 || ce.Err.Error() != "sh: not found" {
		t.Errorf("parseReport: %#v", err)
	}
	if err := parseReport([]byte("")); err != nil {
		t.Errorf("an empty report is no error of the container's: %v", err)
	}
}

type closeBuffer struct {
	strings.Builder
	closed int
}

func (b *closeBuffer) Close() error { b.closed++; return nil }

func TestReporterReportsOnce(t *testing.T) {
	var b closeBuffer
	r := &reporter{w: &b}
	r.failed(125, errors.New("first"))
	r.started()
	r.failed(1, errors.New("second"))
	if b.String() != "err 125 first" || b.closed != 1 {
		t.Errorf("reported %q, closed %d times", b.String(), b.closed)
	}
}

// The shared supervisor's side of the handshake: "+" once it holds the
// container, then the start's report, then it ends with its last one.
func TestSharedHandshake(t *testing.T) {
	dir := t.TempDir()
	ended := make(chan struct{})
	l, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	s := &shared{sock: filepath.Join(dir, "s.sock"), lock: filepath.Join(dir, "s.lock"), l: l, exit: func() { close(ended) }}
	front, back := net.Pipe()
	go s.handle(back)
	if _, err := io.WriteString(front, filepath.Join(dir, "no-record.json")+"\n"); err != nil {
		t.Fatal(err)
	}
	msg, err := io.ReadAll(bufio.NewReader(front))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), "+err 125 ") || !strings.Contains(string(msg), "no-record.json") {
		t.Errorf("the supervisor answered %q", msg)
	}
	<-ended
	if _, err := os.Stat(s.sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket is left after the last container: %v", err)
	}
}

// dropText unmaps this test binary's text and read-only data; the test
// goes on running from the page cache.
func TestDropTextKeepsRunning(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := relroRange(exe); !ok {
		t.Fatalf("%s is not read as ELF", exe)
	}
	dropText()
	if got := strings.Repeat("ok", 2); got != "okok" {
		t.Fatal(got)
	}
}

func TestRestartDelay(t *testing.T) {
	for _, c := range []struct {
		restarts int
		want     string
	}{{0, "100ms"}, {1, "200ms"}, {3, "800ms"}, {20, "1m0s"}} {
		if got := restartDelay(c.restarts).String(); got != c.want {
			t.Errorf("restartDelay(%d) = %s, want %s", c.restarts, got, c.want)
		}
	}
}

// relroRange reads what debug/elf reads: for this test binary (static,
// no RELRO) and for a dynamically linked PIE program with one.
func TestRelroRangeMatchesDebugElf(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{exe, "/bin/true", "/usr/bin/newuidmap"} {
		f, err := elf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		var want [2]uint64
		for _, ph := range f.Progs {
			if ph.Type == elf.PT_GNU_RELRO {
				want = [2]uint64{ph.Vaddr, ph.Vaddr + ph.Memsz}
			}
		}
		wantPIE := f.Type == elf.ET_DYN
		f.Close()
		got, pie, ok := relroRange(p)
		if !ok || got != want || pie != wantPIE {
			t.Errorf("relroRange(%s) = %v, pie %v, ok %v; debug/elf: %v, pie %v", p, got, pie, ok, want, wantPIE)
		}
	}
	if _, _, ok := relroRange("/etc/passwd"); ok {
		t.Error("relroRange read /etc/passwd as ELF")
	}
}
