package main

import (
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("top", func() *command {
		fs := pflag.NewFlagSet("top", pflag.ContinueOnError)
		// Everything after the container is ps's or a descriptor.
		fs.SetInterspersed(false)
		return &command{
			name:  "top",
			short: "Show a container's processes",
			usage: "top CONTAINER [DESCRIPTOR...|PS_OPTIONS...]\n\nDescriptors (podman's, pids as the container sees them): " + strings.Join(slices.Sorted(maps.Keys(engine.TopDescriptors)), ", ") + "\n(default: " + strings.Join(engine.DefaultTop, " ") + "). Anything else is\nps(1) options, run on the host and cut to the container's processes, as docker's top.",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("top", "a CONTAINER")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				rows, err := engine.Top(root, args[0], args[1:])
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(os.Stdout, 12, 2, 2, ' ', 0)
				for _, r := range rows {
					w.Write([]byte(strings.Join(r, "\t") + "\n"))
				}
				return w.Flush()
			},
		}
	})
}
