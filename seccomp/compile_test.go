package seccomp

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// data is struct seccomp_data for the interpreter.
type data struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

func (d data) word(off uint32) (uint32, error) {
	b := make([]byte, 64)
	binary.NativeEndian.PutUint32(b[0:], d.nr)
	binary.NativeEndian.PutUint32(b[4:], d.arch)
	for i, a := range d.args {
		binary.NativeEndian.PutUint64(b[16+8*i:], a)
	}
	if off%4 != 0 || off+4 > 64 {
		return 0, fmt.Errorf("load at %d", off)
	}
	return binary.NativeEndian.Uint32(b[off:]), nil
}

// run interprets the program as the kernel's seccomp checker does: only
// the instructions the kernel accepts in a seccomp filter, forward jumps,
// and a return on every path.
func run(t *testing.T, p *Program, d data) uint32 {
	t.Helper()
	insns, err := decode(p.Filter)
	if err != nil {
		t.Fatal(err)
	}
	var a uint32
	for pc := 0; pc < len(insns); pc++ {
		in := insns[pc]
		switch in.code {
		case opLdWAbs:
			if a, err = d.word(in.k); err != nil {
				t.Fatalf("pc %d: %v", pc, err)
			}
		case opAndK:
			a &= in.k
		case opRetK:
			return in.k
		case opJa:
			pc += int(in.k)
		case jeq, jgt, jge:
			var ok bool
			switch in.code {
			case jeq:
				ok = a == in.k
			case jgt:
				ok = a > in.k
			case jge:
				ok = a >= in.k
			}
			if ok {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		default:
			t.Fatalf("pc %d: opcode %#x not expected", pc, in.code)
		}
	}
	t.Fatal("fell off the end of the program")
	return 0
}

func nr(t *testing.T, name string) uint32 {
	t.Helper()
	a, err := nativeArch(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	n, ok := a.lookup(name)
	if !ok {
		t.Fatalf("no syscall %s", name)
	}
	return n
}

func native(t *testing.T) uint32 {
	a, err := nativeArch(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	return a.audit
}

func uptr(u uint) *uint { return &u }

// TestOperators compares each operator against its definition over
// values that straddle the 32-bit word boundary, for every argument
// index, both as the rule's value and as the syscall's argument.
func TestOperators(t *testing.T) {
	vals := []uint64{0, 1, 2, 7, 40, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
		0x100000000, 0x100000001, 0x1ffffffff, 0x7e020000, 0xffffffff00000000,
		0xfffffffffffffffe, 0xffffffffffffffff}
	ops := map[specs.LinuxSeccompOperator]func(arg, v, v2 uint64) bool{
		specs.OpEqualTo:      func(a, v, _ uint64) bool { return a == v },
		specs.OpNotEqual:     func(a, v, _ uint64) bool { return a != v },
		specs.OpLessThan:     func(a, v, _ uint64) bool { return a < v },
		specs.OpLessEqual:    func(a, v, _ uint64) bool { return a <= v },
		specs.OpGreaterThan:  func(a, v, _ uint64) bool { return a > v },
		specs.OpGreaterEqual: func(a, v, _ uint64) bool { return a >= v },
		specs.OpMaskedEqual:  func(a, v, v2 uint64) bool { return a&v == v2 },
	}
	read := nr(t, "read")
	for op, want := range ops {
		for idx := uint(0); idx < 6; idx++ {
			for _, v := range vals {
				v2 := v & 0xff00000000000f0f
				prof := &specs.LinuxSeccomp{
					DefaultAction: specs.ActErrno,
					Syscalls: []specs.LinuxSyscall{{
						Names: []string{"read"}, Action: specs.ActAllow,
						Args: []specs.LinuxSeccompArg{{Index: idx, Value: v, ValueTwo: v2, Op: op}},
					}},
				}
				p, err := Compile(prof, runtime.GOARCH)
				if err != nil {
					t.Fatal(err)
				}
				for _, arg := range vals {
					d := data{nr: read, arch: native(t)}
					d.args[idx] = arg
					// Noise in the other arguments must not matter.
					d.args[(idx+1)%6] = ^arg
					got := run(t, p, d) == retAllow
					if got != want(arg, v, v2) {
						t.Errorf("%s arg%d=%#x value %#x/%#x: allowed=%v, want %v", op, idx, arg, v, v2, got, !got)
					}
				}
			}
		}
	}
}

func TestRuleSemantics(t *testing.T) {
	read, write := nr(t, "read"), nr(t, "write")
	prof := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uptr(38),
		Syscalls: []specs.LinuxSyscall{
			// AND of two arguments.
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 2, Value: 10, Op: specs.OpLessThan}}},
			// Same argument twice: alternatives (runc).
			{Names: []string{"write"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 0, Value: 2, Op: specs.OpEqualTo}}},
			// A conditional errno before the unconditional allow.
			{Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: uptr(5), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 3, Op: specs.OpEqualTo}}},
			{Names: []string{"write"}, Action: specs.ActLog},
			{Names: []string{"no_such_syscall", "getpid"}, Action: specs.ActKillProcess},
		},
	}
	p, err := Compile(prof, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	a := native(t)
	cases := []struct {
		d    data
		want uint32
	}{
		{data{nr: read, arch: a, args: [6]uint64{1, 0, 9}}, retAllow},
		{data{nr: read, arch: a, args: [6]uint64{1, 0, 10}}, retErrno | 38},
		{data{nr: read, arch: a, args: [6]uint64{2, 0, 9}}, retErrno | 38},
		{data{nr: write, arch: a, args: [6]uint64{1}}, retAllow},
		{data{nr: write, arch: a, args: [6]uint64{2}}, retAllow},
		{data{nr: write, arch: a, args: [6]uint64{3}}, retErrno | 5},
		{data{nr: write, arch: a, args: [6]uint64{4}}, retLog},
		{data{nr: nr(t, "getpid"), arch: a}, retKillProcess},
		{data{nr: nr(t, "getppid"), arch: a}, retErrno | 38},
		{data{nr: 100000, arch: a}, retErrno | 38},
		{data{nr: read, arch: 0x40000003, args: [6]uint64{1, 0, 9}}, retErrno | 38}, // i386
	}
	for _, c := range cases {
		if got := run(t, p, c.d); got != c.want {
			t.Errorf("%+v: %#x, want %#x", c.d, got, c.want)
		}
	}
}

// A syscall newer than every one the profile names gets ENOSYS, not the
// default errno, as runc's -ENOSYS stub gives it: glibc then falls back
// to the older call (clone3 to clone, faccessat2 to faccessat) instead
// of failing with EPERM. Syscalls within the profile's range keep the
// default; an allowing default or an ENOSYS one needs no stub.
func TestNewerSyscallsENOSYS(t *testing.T) {
	a := native(t)
	getpid, kcmp := nr(t, "getpid"), nr(t, "kcmp")
	prof := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid", "kcmp", "no_such_syscall"}, Action: specs.ActAllow},
		},
	}
	p, err := Compile(prof, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		nr   uint32
		want uint32
	}{
		{getpid, retAllow},
		{kcmp, retAllow},
		{kcmp - 1, retErrno | 1},
		{kcmp + 1, retErrno | 38},
		{1000, retErrno | 38},
	} {
		if got := run(t, p, data{nr: c.nr, arch: a}); got != c.want {
			t.Errorf("syscall %d: %#x, want %#x", c.nr, got, c.want)
		}
	}
	// Another default errno is kept below the range too.
	prof.DefaultErrnoRet = uptr(6)
	if p, err = Compile(prof, runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
	if got := run(t, p, data{nr: kcmp - 1, arch: a}); got != retErrno|6 {
		t.Errorf("in range with defaultErrnoRet 6: %#x", got)
	}
	if got := run(t, p, data{nr: 1000, arch: a}); got != retErrno|38 {
		t.Errorf("beyond the range with defaultErrnoRet 6: %#x", got)
	}
	// An allowing default allows everything it does not name.
	prof.DefaultAction, prof.DefaultErrnoRet = specs.ActAllow, nil
	prof.Syscalls[0].Action = specs.ActErrno
	if p, err = Compile(prof, runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
	if got := run(t, p, data{nr: 1000, arch: a}); got != retAllow {
		t.Errorf("beyond the range with an allowing default: %#x", got)
	}
}

func TestRefused(t *testing.T) {
	bad := []specs.LinuxSeccomp{
		{DefaultAction: "SCMP_ACT_BOGUS"},
		{DefaultAction: specs.ActNotify},
		{DefaultAction: specs.ActAllow, ListenerPath: "@abstract"},
		{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}},
		{DefaultAction: specs.ActAllow, ListenerPath: "/run/x.sock", Syscalls: []specs.LinuxSyscall{{Names: []string{"write"}, Action: specs.ActNotify}}},
		{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NOPE"}},
		{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: uptr(70000)}}},
		{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
		{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_WHAT"}}}}},
	}
	for i := range bad {
		if _, err := Compile(&bad[i], runtime.GOARCH); err == nil {
			t.Errorf("%+v compiled", bad[i])
		}
	}
	if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, "mips"); err == nil {
		t.Error("compiled for mips")
	}
}

// dockerDefault is moby's default profile for a process with docker's
// default capabilities, as urun run uses it.
func dockerDefault(t *testing.T, caps ...string) *specs.LinuxSeccomp {
	t.Helper()
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	s, err := mobyseccomp.GetDefaultProfile(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var dockerCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"}

func TestDockerDefault(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64"} {
		p, err := Compile(dockerDefault(t, dockerCaps...), goarch)
		if err != nil {
			t.Fatalf("%s: %v", goarch, err)
		}
		t.Logf("%s: %d instructions", goarch, p.Len())
	}
	p, err := Compile(dockerDefault(t, dockerCaps...), runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	a := native(t)
	eperm, enosys := uint32(retErrno|1), uint32(retErrno|38)
	const cloneNewuser = unix.CLONE_NEWUSER
	cases := []struct {
		name string
		args [6]uint64
		want uint32
	}{
		{"read", [6]uint64{}, retAllow},
		{"execve", [6]uint64{}, retAllow},
		{"unshare", [6]uint64{unix.CLONE_NEWUSER}, eperm},
		{"keyctl", [6]uint64{}, eperm},
		{"add_key", [6]uint64{}, eperm},
		{"request_key", [6]uint64{}, eperm},
		{"ptrace", [6]uint64{}, retAllow}, // allowed on kernels >= 4.8, as docker
		{"mount", [6]uint64{}, eperm},
		{"bpf", [6]uint64{}, eperm},
		{"kexec_load", [6]uint64{}, eperm},
		{"open_by_handle_at", [6]uint64{}, eperm},
		{"personality", [6]uint64{0}, retAllow},
		{"personality", [6]uint64{0xffffffff}, retAllow},
		{"personality", [6]uint64{0x0040000}, eperm}, // ADDR_NO_RANDOMIZE
		{"socket", [6]uint64{unix.AF_INET}, retAllow},
		{"socket", [6]uint64{unix.AF_UNIX}, retAllow},
		{"socket", [6]uint64{unix.AF_VSOCK}, eperm},
		{"socket", [6]uint64{unix.AF_VSOCK + 1<<32}, eperm},
		{"clone", [6]uint64{17}, retAllow},
		{"clone", [6]uint64{cloneNewuser | 17}, eperm},
		{"clone", [6]uint64{unix.CLONE_NEWNS}, eperm},
		{"clone3", [6]uint64{}, enosys},
	}
	for _, c := range cases {
		if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
			t.Skip("no syscall table")
		}
		got := run(t, p, data{nr: nr(t, c.name), arch: a, args: c.args})
		if got != c.want {
			t.Errorf("%s(%#x): %#x, want %#x", c.name, c.args[0], got, c.want)
		}
	}
	// CAP_SYS_ADMIN brings mount, unshare and namespace clones back, as in docker.
	p, err = Compile(dockerDefault(t, append(dockerCaps, "CAP_SYS_ADMIN")...), runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		arg  uint64
	}{{"mount", 0}, {"unshare", unix.CLONE_NEWUSER}, {"clone", unix.CLONE_NEWUSER}} {
		if got := run(t, p, data{nr: nr(t, c.name), arch: a, args: [6]uint64{c.arg}}); got != retAllow {
			t.Errorf("with CAP_SYS_ADMIN %s: %#x, want allow", c.name, got)
		}
	}
}

func TestCache(t *testing.T) {
	dir := t.TempDir()
	prof := dockerDefault(t, dockerCaps...)
	p1, err := Cached(dir, prof, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), ".bpf") {
		t.Fatalf("cache holds %v", ents)
	}
	p2, err := Cached(dir, prof, runtime.GOARCH)
	if err != nil || string(p2.Filter) != string(p1.Filter) {
		t.Fatalf("cached program differs: %v", err)
	}
	// A damaged entry is compiled again and replaced.
	f := dir + "/" + ents[0].Name()
	if err := os.WriteFile(f, p1.Filter[:len(p1.Filter)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	p3, err := Cached(dir, prof, runtime.GOARCH)
	if err != nil || string(p3.Filter) != string(p1.Filter) {
		t.Fatalf("damaged cache entry not recompiled: %v", err)
	}
	// Another profile, another key.
	other := *prof
	other.DefaultAction = specs.ActKillProcess
	k1, _ := Key(prof, runtime.GOARCH)
	k2, _ := Key(&other, runtime.GOARCH)
	k3, _ := Key(prof, "arm64")
	if k1 == k2 || k1 == k3 {
		t.Error("keys do not depend on the profile and architecture")
	}
}

// TestKernel installs the compiled default profile in a child process
// and checks what the real kernel does with it.
func TestKernel(t *testing.T) {
	if os.Getenv("URUN_SECCOMP_CHILD") == "1" {
		kernelChild()
		return
	}
	if _, err := nativeArch(runtime.GOARCH); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKernel$")
	cmd.Env = append(os.Environ(), "URUN_SECCOMP_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Log(strings.SplitN(string(out), "\n", 2)[0])
	want := []string{
		"getpid ok", "unshare EPERM", "keyctl EPERM", "add_key EPERM",
		"socket(AF_VSOCK) EPERM", "socket(AF_UNIX) ok", "personality(0xffffffff) ok",
		"personality(ADDR_LIMIT_32BIT) EPERM", "clone3 ENOSYS",
	}
	for _, w := range want {
		if !strings.Contains(string(out), w+"\n") {
			t.Errorf("child output lacks %q:\n%s", w, out)
		}
	}
}

func kernelChild() {
	runtime.LockOSThread()
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: dockerCaps}}}
	prof, err := mobyseccomp.GetDefaultProfile(spec)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	p, err := Compile(prof, runtime.GOARCH)
	if err == nil {
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	start := time.Now()
	if err == nil {
		_, err = Install(p)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("install of %d instructions took %v\n", p.Len(), time.Since(start))
	report := func(what string, e unix.Errno) {
		if e == 0 {
			fmt.Println(what, "ok")
		} else {
			fmt.Println(what, unix.ErrnoName(e))
		}
	}
	_, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	report("getpid", e)
	_, _, e = unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	report("unshare", e)
	_, _, e = unix.RawSyscall(unix.SYS_KEYCTL, 0, 0, 0)
	report("keyctl", e)
	_, _, e = unix.RawSyscall6(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0, 0)
	report("add_key", e)
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	report("socket(AF_VSOCK)", e)
	if e == 0 {
		unix.Close(int(fd))
	}
	fd, _, e = unix.RawSyscall(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM, 0)
	report("socket(AF_UNIX)", e)
	unix.Close(int(fd))
	old, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	report("personality(0xffffffff)", e)
	_, _, e = unix.RawSyscall(unix.SYS_PERSONALITY, 0x0800000, 0, 0)
	report("personality(ADDR_LIMIT_32BIT)", e)
	unix.RawSyscall(unix.SYS_PERSONALITY, old, 0, 0)
	_, _, e = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	report("clone3", e)
	os.Exit(0)
}

// Features must not claim what Compile refuses.
func TestFeaturesCompile(t *testing.T) {
	actions, operators, archs, flags := Features(runtime.GOARCH)
	if len(archs) == 0 {
		t.Skip("no native architecture")
	}
	for _, a := range actions {
		for _, op := range operators {
			s := &specs.LinuxSeccomp{DefaultAction: specs.LinuxSeccompAction(a), Syscalls: []specs.LinuxSyscall{{
				Names: []string{"read"}, Action: specs.LinuxSeccompAction(a),
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 3, Op: specs.LinuxSeccompOperator(op)}}}}}
			if a == string(specs.ActNotify) {
				// A rule's action only, as in runc; with its agent.
				s.DefaultAction, s.ListenerPath = specs.ActAllow, "/run/agent.sock"
			}
			for _, f := range flags {
				s.Flags = append(s.Flags, specs.LinuxSeccompFlag(f))
			}
			if _, err := Compile(s, runtime.GOARCH); err != nil {
				t.Errorf("%s/%s: %v", a, op, err)
			}
		}
	}
}
