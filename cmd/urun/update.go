package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/cgroupdelegate"
	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

// update changes a running container's limits, as runc's does:
// --resources FILE (or - for stdin) holds linux.resources as JSON, which
// containerd's shim sends; the flags set single limits. Device rules in
// it are ignored, as runc ignores them.
func init() {
	register("update", func() *command {
		fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
		resources := fs.StringP("resources", "r", "", "a file with linux.resources JSON, or - for stdin")
		memory := fs.Int64("memory", 0, "memory limit in bytes")
		reservation := fs.Int64("memory-reservation", 0, "memory soft limit in bytes")
		swap := fs.Int64("memory-swap", 0, "memory plus swap limit in bytes (-1: unlimited)")
		shares := fs.Uint64("cpu-share", 0, "CPU shares (relative weight)")
		period := fs.Uint64("cpu-period", 0, "CPU CFS period in microseconds")
		quota := fs.Int64("cpu-quota", 0, "CPU CFS quota in microseconds per period")
		pids := fs.Int64("pids-limit", 0, "maximum number of processes (-1 or 0: unlimited)")
		return &command{
			name:  "update",
			short: "Change a running container's resource limits",
			usage: "update [--resources FILE|-] [--memory N] [--cpu-share N] [--pids-limit N] … ID",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("update", "exactly one container ID")
				}
				var r specs.LinuxResources
				if *resources != "" {
					in := io.Reader(os.Stdin)
					if *resources != "-" {
						f, err := os.Open(*resources)
						if err != nil {
							return fmt.Errorf("--resources: %w", err)
						}
						defer f.Close()
						in = f
					}
					if err := json.NewDecoder(in).Decode(&r); err != nil {
						return fmt.Errorf("--resources: not linux.resources JSON: %w", err)
					}
				}
				// Each flag given sets its field, over the file's.
				mem := func() *specs.LinuxMemory {
					if r.Memory == nil {
						r.Memory = &specs.LinuxMemory{}
					}
					return r.Memory
				}
				cpu := func() *specs.LinuxCPU {
					if r.CPU == nil {
						r.CPU = &specs.LinuxCPU{}
					}
					return r.CPU
				}
				for _, l := range []struct {
					flag string
					set  func()
				}{
					{"memory", func() { mem().Limit = memory }},
					{"memory-reservation", func() { mem().Reservation = reservation }},
					{"memory-swap", func() { mem().Swap = swap }},
					{"cpu-share", func() { cpu().Shares = shares }},
					{"cpu-period", func() { cpu().Period = period }},
					{"cpu-quota", func() { cpu().Quota = quota }},
					{"pids-limit", func() { r.Pids = &specs.LinuxPids{Limit: pids} }},
				} {
					if fs.Changed(l.flag) {
						l.set()
					}
				}
				// containerd sends the container's whole linux.resources;
				// device rules are set at create and, as with runc, not
				// changed by update.
				r.Devices = nil
				plan, err := cgroupdelegate.V1LimitPlan(&r)
				if err != nil {
					return err
				}
				w := make([]container.CgroupWrite, len(plan))
				for i, x := range plan {
					w[i] = container.CgroupWrite{Controller: x.Controller, File: x.File, Value: x.Value, Field: x.Field}
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				return container.Update(root, args[0], w)
			},
		}
	})
}
