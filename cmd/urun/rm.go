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
		all := fs.BoolP("all", "a", false, "remove every container (running ones only with -f)")
		fs.BoolP("volumes", "v", false, "also remove the container's anonymous volumes (urun makes none yet: accepted)")
		return &command{
			name:  "rm",
			short: "Remove containers",
			usage: "rm [-f] [-v] CONTAINER...\n       urun rm -a [-f]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 && !*all {
					return argsError("rm", "at least one container (or -a)")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				if *all {
					list, err := listEntries(root, true)
					if err != nil {
						return err
					}
					for _, e := range list {
						if e.State == "running" && !*force {
							continue // as podman: rm -a leaves running ones without -f
						}
						args = append(args, e.ID)
					}
				}
				// A container others share the namespaces of goes after
				// them: such refs are tried again once the rest are gone.
				for len(args) > 0 {
					var later []string
					var first error
					for _, ref := range args {
						if err := engine.Remove(root, ref, *force); err != nil {
							if *force && errors.Is(err, errNoSuchContainer) {
								continue
							}
							if errors.Is(err, engine.ErrDependents) {
								later = append(later, ref)
								if first == nil {
									first = err
								}
								continue
							}
							return err
						}
						fmt.Println(ref)
					}
					if len(later) == len(args) {
						return first
					}
					args = later
				}
				return nil
			},
		}
	})
}
