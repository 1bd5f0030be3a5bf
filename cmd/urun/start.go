package main

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
)

func init() {
	register("start", func() *command {
		fs := pflag.NewFlagSet("start", pflag.ContinueOnError)
		return &command{
			name:  "start",
			short: "Start a created container",
			usage: "start ID",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("start", "exactly one container ID")
				}
				return urunStart(g, args[0])
			},
		}
	})
}

// urunStart starts a created container: the OCI face's (exec FIFO) or an
// engine container's (a new supervisor runs its run arguments).
func urunStart(g *globals, ref string) error {
	root, err := ociRoot(g)
	if err != nil {
		return err
	}
	id, st, err := findContainer(root, ref)
	if err != nil {
		return err
	}
	if len(st.RunArgs) == 0 {
		return container.Start(root, id)
	}
	if st.Status == specs.StateRunning {
		return fmt.Errorf("container %s is already running", ref)
	}
	if err := spawnSupervisor(id, st.RunArgs); err != nil {
		return err
	}
	fmt.Println(ref)
	return nil
}
