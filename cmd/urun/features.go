package main

import (
	"os"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/seccomp"
)

func init() {
	register("features", func() *command {
		fs := pflag.NewFlagSet("features", pflag.ContinueOnError)
		return &command{
			name:  "features",
			short: "Print what this runtime implements, as runtime-spec features JSON",
			usage: "features",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 0 {
					return argsError("features", "no arguments")
				}
				return printJSON(os.Stdout, runtimeFeatures())
			},
		}
	})
}

// runtimeFeatures says only what urun really does.
func runtimeFeatures() features.Features {
	no, yes := false, true
	actions, operators, archs, flags := seccomp.Features(runtime.GOARCH)
	return features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{},
		MountOptions:  container.KnownMountOptions(),
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"},
			Capabilities: container.KnownCapabilities(),
			Cgroup:       &features.Cgroup{V1: &no, V2: &no, Systemd: &no, SystemdUser: &no},
			Apparmor:     &features.Apparmor{Enabled: &no},
			Selinux:      &features.Selinux{Enabled: &no},
			IntelRdt:     &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: &no},
			},
			Seccomp: &features.Seccomp{
				Enabled: &yes, Actions: actions, Operators: operators, Archs: archs,
				KnownFlags: flags, SupportedFlags: flags,
			},
		},
		Annotations: map[string]string{
			"org.opencontainers.runc.checkpoint.enabled": "false",
			"run.oci.urun.rootless":                      "true",
			"io.github.urun.pivot_root":                  "true",
			"io.github.urun.console_socket":              "true",
			"io.github.urun.exec_fifo":                   "true",
			"io.github.urun.user_namespace_auto":         "true",
			"io.github.urun.version":                     version,
		},
	}
}
