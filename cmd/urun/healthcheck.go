package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

func init() {
	register("healthcheck", func() *command {
		return &command{
			name:  "healthcheck",
			short: "Run a container's health check now (exit 0 passed, 1 unhealthy)",
			usage: "healthcheck run CONTAINER",
			flags: pflag.NewFlagSet("healthcheck", pflag.ContinueOnError),
			run: func(g *globals, args []string) error {
				if len(args) != 2 || args[0] != "run" {
					return argsError("healthcheck", "the subcommand run and a CONTAINER")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				initPath, err := findInit()
				if err != nil {
					return err
				}
				passed, err := engine.HealthcheckRun(root, args[1], engine.HealthExec{InitPath: initPath, SeccompCache: seccompCacheDir()})
				if err != nil {
					return err
				}
				if !passed {
					// podman's: the word, and status 1.
					fmt.Println(container.HealthUnhealthy)
					return exitStatus(1)
				}
				return nil
			},
		}
	})
}
