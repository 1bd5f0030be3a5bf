package main

import (
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
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				return container.Start(root, args[0])
			},
		}
	})
}
