// Package seccomp compiles an OCI seccomp profile (linux.seccomp of a
// config.json) into the classic BPF program the kernel runs, and caches
// the result. It is pure: no syscalls, so the compiler is tested on every
// machine; the container init only installs the bytes (container
// seccomp_child.go).
//
// Why a compiler of our own: libseccomp needs cgo, which the static init
// and the build tags rule out, and github.com/elastic/go-seccomp-bpf
// (v1.6.0) takes its own policy format, compares arguments only as
// whole-value equality/bit tests without docker's SCMP_CMP_MASKED_EQ on
// a 64-bit value, and has no per-rule errno. The subset of BPF a profile
// needs is small: load a 32-bit word of seccomp_data, compare, jump,
// return. What follows is that subset, with the same semantics as
// libseccomp for the profiles docker, podman and the OCI spec produce.
package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run ./internal/mksysnum

// Version changes whenever the compiler's output for the same profile
// may change; it is part of the cache key.
const Version = "urun-seccomp-2"

// Return values of a filter (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retUserNotif   = 0x7fc00000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
)

// Filter flags for seccomp(SECCOMP_SET_MODE_FILTER) (linux/seccomp.h).
const (
	FlagTSync     = 1 << 0
	FlagLog       = 1 << 1
	FlagSpecAllow = 1 << 2
	// FlagNewListener makes seccomp(2) return a user-notification fd;
	// FlagTSyncESRCH lets it combine with FlagTSync (Linux 5.7).
	FlagNewListener = 1 << 3
	FlagTSyncESRCH  = 1 << 4
)

// Offsets in struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6].
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Audit architecture values (linux/audit.h).
const (
	auditArchX8664   = 0xc000003e
	auditArchAArch64 = 0xc00000b7
	// x32 syscalls arrive with the x86_64 audit arch and this bit set.
	x32SyscallBit = 0x40000000
)

// Program is a compiled filter: the struct sock_filter array in the
// machine's byte order, and the flags to install it with.
type Program struct {
	Filter []byte `json:"filter"`
	Flags  uint   `json:"flags,omitempty"`
	// Notify: the filter has SCMP_ACT_NOTIFY rules, and installing it
	// yields the listener fd for the profile's listenerPath agent.
	Notify bool `json:"notify,omitempty"`
}

// Len is the number of BPF instructions.
func (p *Program) Len() int { return len(p.Filter) / 8 }

type sysnum struct {
	name string
	nr   uint32
}

// archInfo is what the compiler needs of one architecture.
type archInfo struct {
	audit  uint32
	table  []sysnum
	hasX32 bool
}

func nativeArch(goarch string) (archInfo, error) {
	switch goarch {
	case "amd64":
		return archInfo{audit: auditArchX8664, table: sysnumsamd64[:], hasX32: true}, nil
	case "arm64":
		return archInfo{audit: auditArchAArch64, table: sysnumsarm64[:]}, nil
	}
	return archInfo{}, fmt.Errorf("seccomp filters are not supported on %s (supported: amd64, arm64)", goarch)
}

func (a archInfo) lookup(name string) (uint32, bool) {
	i := sort.Search(len(a.table), func(i int) bool { return a.table[i].name >= name })
	if i < len(a.table) && a.table[i].name == name {
		return a.table[i].nr, true
	}
	return 0, false
}

// Compile turns a profile into a filter for goarch (runtime.GOARCH).
//
// Semantics, as libseccomp and runc apply them:
//   - a syscall name the architecture does not have is skipped (profiles
//     list every architecture's names);
//   - the conditions of one rule must all hold; when every condition of a
//     rule compares the same argument, they are alternatives instead
//     (runc's reading, since libseccomp cannot AND one argument);
//   - several rules for one syscall are tried in profile order, rules with
//     conditions before an unconditional one;
//   - a syscall of another architecture (32-bit x86 or x32 on amd64) gets
//     the default action: urun compiles for the native one only.
func Compile(s *specs.LinuxSeccomp, goarch string) (*Program, error) {
	if s == nil {
		return nil, errors.New("no seccomp profile")
	}
	arch, err := nativeArch(goarch)
	if err != nil {
		return nil, err
	}
	notify, err := checkNotify(s)
	if err != nil {
		return nil, err
	}
	defErrno := uint32(1) // EPERM
	if s.DefaultErrnoRet != nil {
		defErrno = uint32(*s.DefaultErrnoRet)
	}
	def, err := action(s.DefaultAction, nil, defErrno)
	if err != nil {
		return nil, fmt.Errorf("seccomp defaultAction: %w", err)
	}
	flags, err := filterFlags(s.Flags)
	if err != nil {
		return nil, err
	}

	// Group rules per syscall number, keeping profile order.
	type rule struct {
		ret  uint32
		args []specs.LinuxSeccompArg
	}
	rules := map[uint32][]rule{}
	for _, sc := range s.Syscalls {
		ret, err := action(sc.Action, sc.ErrnoRet, defErrno)
		if err != nil {
			return nil, fmt.Errorf("seccomp rule for %v: %w", sc.Names, err)
		}
		for _, a := range sc.Args {
			if a.Index >= 6 {
				return nil, fmt.Errorf("seccomp rule for %v: argument index %d out of range 0-5", sc.Names, a.Index)
			}
			if _, ok := opNames[a.Op]; !ok {
				return nil, fmt.Errorf("seccomp rule for %v: unknown operator %q", sc.Names, a.Op)
			}
		}
		alts := [][]specs.LinuxSeccompArg{sc.Args}
		if len(sc.Args) > 1 && sameIndex(sc.Args) {
			alts = alts[:0]
			for _, a := range sc.Args {
				alts = append(alts, []specs.LinuxSeccompArg{a})
			}
		}
		for _, name := range sc.Names {
			nr, ok := arch.lookup(name)
			if !ok {
				continue
			}
			for _, args := range alts {
				rules[nr] = append(rules[nr], rule{ret: ret, args: args})
			}
		}
	}
	nrs := make([]uint32, 0, len(rules))
	for nr := range rules {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)
	// Syscalls newer than any the profile names get ENOSYS, whatever
	// the default: the profile cannot have meant them, and ENOSYS is
	// what lets glibc fall back to an older call (clone3 to clone),
	// where EPERM fails the program. runc puts the same stub before
	// libseccomp's filter; like runc, not when the default allows.
	var last uint32
	for _, sc := range s.Syscalls {
		for _, name := range sc.Names {
			if nr, ok := arch.lookup(name); ok && nr > last {
				last = nr
			}
		}
	}
	enosysStub := len(nrs) > 0 && def != retErrno|enosys &&
		s.DefaultAction != specs.ActAllow && s.DefaultAction != specs.ActLog

	var as asm
	as.ld(offArch)
	as.jeqK(arch.audit, "archok", "")
	as.ret(def)
	as.label("archok")
	as.ld(offNr)
	if arch.hasX32 {
		as.jump(jge, x32SyscallBit, "", "nrok")
		as.ret(def)
		as.label("nrok")
	}
	if enosysStub {
		as.jump(jgt, last, "", "inrange")
		as.ret(retErrno | enosys)
		as.label("inrange")
	}
	for _, nr := range nrs {
		rs := rules[nr]
		if len(rs) == 1 && len(rs[0].args) == 0 {
			if rs[0].ret == def {
				continue // the default does the same
			}
			skip := as.newLabel()
			as.jeqK(nr, "", skip)
			as.ret(rs[0].ret)
			as.label(skip)
			continue
		}
		skip := as.newLabel()
		as.jeqK(nr, "", skip)
		as.ja(fmt.Sprintf("sys%d", nr))
		as.label(skip)
	}
	as.ret(def)

	for _, nr := range nrs {
		rs := rules[nr]
		if len(rs) == 1 && len(rs[0].args) == 0 {
			continue
		}
		as.label(fmt.Sprintf("sys%d", nr))
		// Conditional rules first, then the first unconditional one.
		uncond := def
		haveUncond := false
		for _, r := range rs {
			if len(r.args) == 0 {
				if !haveUncond {
					uncond, haveUncond = r.ret, true
				}
				continue
			}
			fail := as.newLabel()
			for _, a := range r.args {
				condition(&as, a, fail)
			}
			as.ret(r.ret)
			as.label(fail)
		}
		as.ret(uncond)
	}
	insns, err := as.assemble()
	if err != nil {
		return nil, err
	}
	if len(insns) > maxInsns {
		return nil, fmt.Errorf("seccomp profile compiles to %d BPF instructions, more than the kernel's limit of %d", len(insns), maxInsns)
	}
	return &Program{Filter: encode(insns), Flags: flags, Notify: notify}, nil
}

// usesNotify: a rule of the profile has SCMP_ACT_NOTIFY.
func usesNotify(s *specs.LinuxSeccomp) bool {
	for _, sc := range s.Syscalls {
		if sc.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

// checkNotify checks the user-notification parts of a profile, as runc
// does: notified syscalls need an agent's socket, given by absolute path
// (runc refuses abstract sockets too), and cannot be ones the container's
// init needs to hand the listener over, before the agent has it.
func checkNotify(s *specs.LinuxSeccomp) (bool, error) {
	if s.DefaultAction == specs.ActNotify {
		return false, errors.New("seccomp defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
	}
	if s.ListenerPath != "" && !strings.HasPrefix(s.ListenerPath, "/") {
		return false, fmt.Errorf("seccomp listenerPath %q: want the absolute path of the agent's unix socket", s.ListenerPath)
	}
	if !usesNotify(s) {
		return false, nil
	}
	if s.ListenerPath == "" {
		return false, errors.New("seccomp SCMP_ACT_NOTIFY needs listenerPath, the unix socket of the agent that handles the notified syscalls")
	}
	for _, sc := range s.Syscalls {
		if sc.Action != specs.ActNotify {
			continue
		}
		for _, n := range sc.Names {
			if n == "write" || n == "sendmsg" {
				return false, fmt.Errorf("SCMP_ACT_NOTIFY cannot be used for the %s syscall: the container's init uses it to hand the listener to the agent", n)
			}
		}
	}
	return true, nil
}

// enosys is ENOSYS on every architecture urun compiles for.
const enosys = 38

// maxInsns is BPF_MAXINSNS, the kernel's limit for a classic program.
const maxInsns = 4096

func sameIndex(args []specs.LinuxSeccompArg) bool {
	for _, a := range args[1:] {
		if a.Index != args[0].Index {
			return false
		}
	}
	return true
}

var opNames = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual: true, specs.OpLessThan: true, specs.OpLessEqual: true, specs.OpEqualTo: true,
	specs.OpGreaterEqual: true, specs.OpGreaterThan: true, specs.OpMaskedEqual: true,
}

// condition emits a 64-bit comparison of one argument; control falls
// through when it holds and jumps to fail when not. Arguments are
// compared as unsigned 64-bit values, high word first, as libseccomp
// does on 64-bit architectures.
func condition(as *asm, a specs.LinuxSeccompArg, fail string) {
	lo := offArgs + 8*uint32(a.Index)
	hi := lo + 4
	v := a.Value
	vhi, vlo := uint32(v>>32), uint32(v)
	pass := as.newLabel()
	switch a.Op {
	case specs.OpEqualTo:
		as.ld(hi)
		as.jeqK(vhi, "", fail)
		as.ld(lo)
		as.jeqK(vlo, "", fail)
	case specs.OpNotEqual:
		as.ld(hi)
		as.jeqK(vhi, "", pass)
		as.ld(lo)
		as.jeqK(vlo, fail, "")
	case specs.OpMaskedEqual:
		// Value is the mask, ValueTwo the datum (runtime-spec, libseccomp).
		m, d := a.Value, a.ValueTwo
		as.ld(hi)
		as.and(uint32(m >> 32))
		as.jeqK(uint32(d>>32), "", fail)
		as.ld(lo)
		as.and(uint32(m))
		as.jeqK(uint32(d), "", fail)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		// hi > vhi: holds; hi < vhi: fails; equal: the low words decide.
		as.ld(hi)
		as.jump(jgt, vhi, pass, "")
		as.jeqK(vhi, "", fail)
		as.ld(lo)
		op := jgt
		if a.Op == specs.OpGreaterEqual {
			op = jge
		}
		as.jump(op, vlo, "", fail)
	case specs.OpLessThan, specs.OpLessEqual:
		// The negation of >= and > respectively.
		as.ld(hi)
		as.jump(jgt, vhi, fail, "")
		as.jeqK(vhi, "", pass)
		as.ld(lo)
		op := jge
		if a.Op == specs.OpLessEqual {
			op = jgt
		}
		as.jump(op, vlo, fail, "")
	}
	as.label(pass)
}

func action(a specs.LinuxSeccompAction, errnoRet *uint, defErrno uint32) (uint32, error) {
	errno := defErrno
	if errnoRet != nil {
		errno = uint32(*errnoRet)
	}
	if errno > 0xffff {
		return 0, fmt.Errorf("errno %d out of range", errno)
	}
	switch a {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return retErrno | errno, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActTrace:
		return retTrace | errno, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActNotify:
		return retUserNotif, nil
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

func filterFlags(fs []specs.LinuxSeccompFlag) (uint, error) {
	var f uint
	for _, fl := range fs {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			f |= FlagLog
		case specs.LinuxSeccompFlagSpecAllow:
			f |= FlagSpecAllow
		case specs.LinuxSeccompFlagWaitKillableRecv:
			// Only meaningful with user notification, which is refused.
		default:
			return 0, fmt.Errorf("unknown seccomp flag %q", fl)
		}
	}
	return f, nil
}

// Classic BPF opcodes (linux/bpf_common.h, linux/filter.h).
const (
	opLdWAbs        = 0x20 // BPF_LD|BPF_W|BPF_ABS
	opAndK          = 0x54 // BPF_ALU|BPF_AND|BPF_K
	opJa            = 0x05 // BPF_JMP|BPF_JA
	opRetK          = 0x06 // BPF_RET|BPF_K
	jeq      uint16 = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
	jgt      uint16 = 0x25 // BPF_JMP|BPF_JGT|BPF_K
	jge      uint16 = 0x35 // BPF_JMP|BPF_JGE|BPF_K
)

// insn is struct sock_filter.
type insn struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

func encode(insns []insn) []byte {
	b := make([]byte, 0, 8*len(insns))
	for _, in := range insns {
		b = binary.NativeEndian.AppendUint16(b, in.code)
		b = append(b, in.jt, in.jf)
		b = binary.NativeEndian.AppendUint32(b, in.k)
	}
	return b
}

// decode is encode's inverse, for tests and for checking a cached file.
func decode(b []byte) ([]insn, error) {
	if len(b) == 0 || len(b)%8 != 0 {
		return nil, fmt.Errorf("a BPF program of %d bytes is not a whole number of instructions", len(b))
	}
	out := make([]insn, len(b)/8)
	for i := range out {
		c := b[8*i:]
		out[i] = insn{binary.NativeEndian.Uint16(c), c[2], c[3], binary.NativeEndian.Uint32(c[4:])}
	}
	return out, nil
}

// asm is a tiny assembler with labels: conditional jumps name their
// targets ("" = the next instruction), and assemble resolves them,
// refusing any that does not fit the 8-bit offsets of jt/jf.
type asm struct {
	insns  []ainsn
	labels map[string]int
	seq    int
}

type ainsn struct {
	insn
	jt, jf string // labels for conditional jumps; k label for ja
}

func (a *asm) newLabel() string {
	a.seq++
	return fmt.Sprintf("L%d", a.seq)
}

func (a *asm) emit(i ainsn) { a.insns = append(a.insns, i) }

func (a *asm) ld(off uint32) { a.emit(ainsn{insn: insn{code: opLdWAbs, k: off}}) }
func (a *asm) and(k uint32)  { a.emit(ainsn{insn: insn{code: opAndK, k: k}}) }
func (a *asm) ret(k uint32)  { a.emit(ainsn{insn: insn{code: opRetK, k: k}}) }
func (a *asm) ja(l string)   { a.emit(ainsn{insn: insn{code: opJa}, jt: l}) }
func (a *asm) jeqK(k uint32, jt, jf string) {
	a.jump(jeq, k, jt, jf)
}
func (a *asm) jump(op uint16, k uint32, jt, jf string) {
	a.emit(ainsn{insn: insn{code: op, k: k}, jt: jt, jf: jf})
}

func (a *asm) label(l string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[l] = len(a.insns)
}

func (a *asm) assemble() ([]insn, error) {
	out := make([]insn, len(a.insns))
	for i, in := range a.insns {
		target := func(l string) (int, error) {
			if l == "" {
				return 0, nil
			}
			t, ok := a.labels[l]
			if !ok {
				return 0, fmt.Errorf("seccomp compiler: label %s not placed", l)
			}
			if t <= i {
				return 0, fmt.Errorf("seccomp compiler: backward jump to %s", l)
			}
			return t - i - 1, nil
		}
		o := in.insn
		if in.code == opJa {
			d, err := target(in.jt)
			if err != nil {
				return nil, err
			}
			o.k = uint32(d)
			out[i] = o
			continue
		}
		if in.code&0x07 == 0x05 { // BPF_JMP class
			jt, err := target(in.jt)
			if err != nil {
				return nil, err
			}
			jf, err := target(in.jf)
			if err != nil {
				return nil, err
			}
			if jt > 255 || jf > 255 {
				return nil, fmt.Errorf("seccomp compiler: jump of %d/%d instructions does not fit", jt, jf)
			}
			o.jt, o.jf = uint8(jt), uint8(jf)
		}
		out[i] = o
	}
	return out, nil
}
