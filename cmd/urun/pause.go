package main

import (
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

// pause and resume freeze and thaw a container through the cgroup
// freezer, as runc's do (containerd's `ctr task pause` calls them).
func init() {
	for _, c := range []struct {
		name, short string
		do          func(root, id string) error
	}{
		{"pause", "Freeze every process of a running container (cgroup freezer)", container.Pause},
		{"resume", "Thaw a paused container", container.Resume},
	} {
		register(c.name, func() *command {
			return &command{
				name:  c.name,
				short: c.short,
				usage: c.name + " ID",
				flags: pflag.NewFlagSet(c.name, pflag.ContinueOnError),
				run: func(g *globals, args []string) error {
					if len(args) != 1 {
						return argsError(c.name, "exactly one container ID")
					}
					root, err := engine.StateRoot(g.root)
					if err != nil {
						return err
					}
					id, err := engine.Resolve(root, args[0])
					if err != nil {
						return err
					}
					return c.do(root, id)
				},
			}
		})
	}
}
