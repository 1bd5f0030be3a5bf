package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("stop", func() *command {
		fs := pflag.NewFlagSet("stop", pflag.ContinueOnError)
		timeout := fs.UintP("time", "t", 10, "seconds to wait after SIGTERM before SIGKILL")
		return &command{
			name:  "stop",
			short: "Stop containers: SIGTERM, then SIGKILL after a timeout",
			usage: "stop [-t SECONDS] CONTAINER...",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("stop", "at least one container")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				for _, ref := range args {
					if err := engine.Stop(root, ref, time.Duration(*timeout)*time.Second); err != nil {
						return err
					}
					fmt.Println(ref)
				}
				return nil
			},
		}
	})
}
