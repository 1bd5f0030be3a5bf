package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("rename", func() *command {
		return &command{
			name:  "rename",
			short: "Rename a container",
			usage: "rename CONTAINER NEW_NAME",
			flags: pflag.NewFlagSet("rename", pflag.ContinueOnError),
			run: func(g *globals, args []string) error {
				if len(args) != 2 {
					return argsError("rename", "a CONTAINER and its NEW_NAME")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				return engine.Rename(root, args[0], args[1])
			},
		}
	})
	register("port", func() *command {
		return &command{
			name:  "port",
			short: "List a container's published ports",
			usage: "port CONTAINER [PRIVATE_PORT[/PROTO]]",
			flags: pflag.NewFlagSet("port", pflag.ContinueOnError),
			run: func(g *globals, args []string) error {
				if len(args) != 1 && len(args) != 2 {
					return argsError("port", "a CONTAINER and at most one PRIVATE_PORT[/PROTO]")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				private := ""
				if len(args) == 2 {
					private = args[1]
				}
				ports, err := engine.Ports(root, args[0], private)
				if err != nil {
					return err
				}
				for _, p := range ports {
					if private != "" {
						fmt.Println(p.Host)
					} else {
						fmt.Printf("%s -> %s\n", p.Private, p.Host)
					}
				}
				return nil
			},
		}
	})
}
