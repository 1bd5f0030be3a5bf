package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
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
				return urunStart(g, args[0])
			},
		}
	})
}

// urunStart starts a created container (engine.Start); an engine
// container's reference is printed, as podman does.
func urunStart(g *globals, ref string) error {
	root, err := ociRoot(g)
	if err != nil {
		return err
	}
	supervised, err := engine.Start(root, ref)
	if err != nil {
		return err
	}
	if supervised {
		fmt.Println(ref)
	}
	return nil
}
