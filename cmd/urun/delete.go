package main

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

func init() {
	register("delete", func() *command {
		fs := pflag.NewFlagSet("delete", pflag.ContinueOnError)
		force := fs.BoolP("force", "f", false, "kill a running container first")
		return &command{
			name:  "delete",
			short: "Delete a stopped or created container (OCI runtime face)",
			usage: "delete [--force] ID",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("delete", "exactly one container ID")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				err = container.Delete(root, args[0], *force)
				if *force && errors.Is(err, container.ErrNotExist) {
					return nil
				}
				return err
			},
		}
	})
}
