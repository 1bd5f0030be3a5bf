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
		timeout := fs.UintP("time", "t", 10, "seconds to wait after the stop signal before SIGKILL (default: the container's --stop-timeout, else 10)")
		return &command{
			name:  "stop",
			short: "Stop containers: the stop signal (SIGTERM unless --stop-signal), then SIGKILL after a timeout",
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
					if err := engine.Stop(root, ref, stopTimeout(fs, *timeout)); err != nil {
						return err
					}
					fmt.Println(ref)
				}
				return nil
			},
		}
	})
}

// stopTimeout is -t as given, or -1 (the container's own) when not.
func stopTimeout(fs *pflag.FlagSet, seconds uint) time.Duration {
	if !fs.Changed("time") {
		return -1
	}
	return time.Duration(seconds) * time.Second
}
