package main

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

func init() {
	register("state", func() *command {
		fs := pflag.NewFlagSet("state", pflag.ContinueOnError)
		return &command{
			name:  "state",
			short: "Print a container's state as runtime-spec State JSON",
			usage: "state ID",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("state", "exactly one container ID")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				st, err := container.Load(root, args[0])
				if err != nil {
					return err
				}
				return printJSON(os.Stdout, newRuncState(root, st))
			},
		}
	})
}
