package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("rm", func() *command {
		fs := pflag.NewFlagSet("rm", pflag.ContinueOnError)
		force := fs.BoolP("force", "f", false, "kill running containers first; no error for missing ones")
		return &command{
			name:  "rm",
			short: "Remove containers",
			usage: "rm [-f] CONTAINER...",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("rm", "at least one container")
				}
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				for _, ref := range args {
					if err := engine.Remove(root, ref, *force); err != nil {
						if *force && errors.Is(err, errNoSuchContainer) {
							continue
						}
						return err
					}
					fmt.Println(ref)
				}
				return nil
			},
		}
	})
}
