package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("restart", func() *command {
		fs := pflag.NewFlagSet("restart", pflag.ContinueOnError)
		timeout := fs.UintP("time", "t", 10, "seconds to wait after SIGTERM before SIGKILL")
		return &command{
			name:  "restart",
			short: "Stop and start containers again",
			usage: "restart [-t SECONDS] CONTAINER...",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("restart", "at least one container")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				for _, ref := range args {
					if err := engine.Stop(root, ref, stopTimeout(fs, *timeout)); err != nil {
						return err
					}
					if err := urunStart(g, ref); err != nil {
						return err
					}
				}
				return nil
			},
		}
	})
	register("container", func() *command {
		fs := pflag.NewFlagSet("container", pflag.ContinueOnError)
		force := fs.BoolP("force", "f", false, "do not ask")
		return &command{
			name:  "container",
			short: "Manage containers: 'container prune' removes every stopped one (and writable layers whose container is gone)",
			usage: "container prune [-f]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 || args[0] != "prune" {
					return argsError("container", "the subcommand prune")
				}
				if ok, err := confirmPrune(*force, "WARNING! This will remove all non running containers."); !ok || err != nil {
					return err
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				removed, err := engine.Prune(root)
				for _, id := range removed {
					fmt.Println(id)
				}
				return err
			},
		}
	})
}
