package seccomp

import (
	"encoding/json"
	"runtime"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzCompile feeds arbitrary linux.seccomp JSON to the compiler. Whatever
// it accepts must be a program the kernel would load: whole instructions,
// within the size limit, every jump forward and inside the program, only
// loads of aligned seccomp_data words, and a return at the end of every
// path (checked by running it on syscalls the profile names).
func FuzzCompile(f *testing.F) {
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":38,"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":40,"op":"SCMP_CMP_NE"}]},{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_LOG","flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["write","no_such"],"action":"SCMP_ACT_TRACE","errnoRet":3,"args":[{"index":5,"value":18446744073709551615,"op":"SCMP_CMP_LE"},{"index":1,"value":4294967296,"op":"SCMP_CMP_GT"}]}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var s specs.LinuxSeccomp
		if json.Unmarshal(in, &s) != nil {
			return
		}
		p, err := Compile(&s, runtime.GOARCH)
		if err != nil {
			return
		}
		insns, err := decode(p.Filter)
		if err != nil || len(insns) > maxInsns {
			t.Fatalf("bad program: %v, %d instructions", err, len(insns))
		}
		for pc, in := range insns {
			switch in.code {
			case opLdWAbs:
				if in.k%4 != 0 || in.k >= 64 {
					t.Fatalf("pc %d: load at %d", pc, in.k)
				}
			case opJa:
				if pc+1+int(in.k) >= len(insns) {
					t.Fatalf("pc %d: ja out of the program", pc)
				}
			case jeq, jgt, jge:
				if pc+1+int(in.jt) >= len(insns) || pc+1+int(in.jf) >= len(insns) {
					t.Fatalf("pc %d: jump out of the program", pc)
				}
			case opAndK, opRetK:
			default:
				t.Fatalf("pc %d: opcode %#x", pc, in.code)
			}
		}
		if insns[len(insns)-1].code != opRetK {
			t.Fatal("program does not end in a return")
		}
		a, _ := nativeArch(runtime.GOARCH)
		for _, sc := range s.Syscalls {
			for _, n := range sc.Names {
				if nr, ok := a.lookup(n); ok {
					for _, v := range []uint64{0, 1, 40, 1 << 32, ^uint64(0)} {
						d := data{nr: nr, arch: a.audit}
						for i := range d.args {
							d.args[i] = v
						}
						run(t, p, d)
					}
				}
			}
		}
	})
}
