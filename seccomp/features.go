package seccomp

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Features lists what Compile accepts, for `urun features`: actions,
// operators, the architecture it compiles for, and filter flags.
func Features(goarch string) (actions, operators, archs, flags []string) {
	for _, a := range []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActKillThread,
		specs.ActTrap, specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog} {
		actions = append(actions, string(a))
	}
	if NotifySupported() {
		actions = append(actions, string(specs.ActNotify))
	}
	for op := range opNames {
		operators = append(operators, string(op))
	}
	sort.Strings(operators)
	switch goarch {
	case "amd64":
		archs = []string{string(specs.ArchX86_64)}
	case "arm64":
		archs = []string{string(specs.ArchAARCH64)}
	}
	flags = []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow)}
	return actions, operators, archs, flags
}
