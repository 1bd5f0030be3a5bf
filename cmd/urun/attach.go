package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

func init() {
	register("attach", func() *command {
		fs := pflag.NewFlagSet("attach", pflag.ContinueOnError)
		return &command{
			name:  "attach",
			short: "Attach to a detached -t container's terminal (detach: ctrl-p ctrl-q)",
			usage: "attach CONTAINER",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("attach", "exactly one container")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				id, st, err := engine.Find(root, args[0])
				if err != nil {
					return err
				}
				if st.Status != "running" {
					return fmt.Errorf("%w: %s", container.ErrNotRunning, args[0])
				}
				if !st.Tty || st.Record == "" {
					return fmt.Errorf("container %s has no terminal to attach to: attach works for containers started with run -d -t (see 'urun logs -f' for others)", args[0])
				}
				return engine.Attach(root, id)
			},
		}
	})
}
