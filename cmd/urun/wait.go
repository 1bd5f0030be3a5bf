package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("wait", func() *command {
		fs := pflag.NewFlagSet("wait", pflag.ContinueOnError)
		return &command{
			name:  "wait",
			short: "Wait for containers to exit and print their exit codes",
			usage: "wait CONTAINER...",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("wait", "at least one container")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				for _, ref := range args {
					id, err := engine.Resolve(root, ref)
					if err != nil {
						return err
					}
					code, err := engine.Wait(root, id)
					if err != nil {
						return err
					}
					fmt.Println(code)
				}
				return nil
			},
		}
	})
}
