package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("start", func() *command {
		fs := pflag.NewFlagSet("start", pflag.ContinueOnError)
		attach := fs.BoolP("attach", "a", false, "print the container's output until it exits, and exit with its status (docker's start -a)")
		fs.BoolP("interactive", "i", false, "accepted for docker compatibility (stdin is not attached)")
		return &command{
			name:  "start",
			short: "Start a created or stopped container",
			usage: "start [-a] CONTAINER...",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 || (*attach && len(args) != 1) {
					return argsError("start", "a container (exactly one with -a)")
				}
				if *attach {
					return startAttached(g, args[0])
				}
				for _, ref := range args {
					if err := urunStart(g, ref); err != nil {
						return err
					}
				}
				return nil
			},
		}
	})
}

// urunStart starts a created container (engine.Start); an engine
// container's reference is printed, as podman does.
func urunStart(g *globals, ref string) error {
	root, err := engine.StateRoot(g.root)
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

// startAttached starts a container and prints what it writes from then
// on until it exits, then exits with its status.
func startAttached(g *globals, ref string) error {
	root, err := engine.StateRoot(g.root)
	if err != nil {
		return err
	}
	id, st, err := engine.Find(root, ref)
	if err != nil {
		return err
	}
	var offset int64
	if fi, err := os.Stat(st.LogPath); err == nil {
		offset = fi.Size()
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	// start prints the name; -a prints only the container's output.
	stdout := os.Stdout
	os.Stdout = devnull
	err = urunStart(g, ref)
	os.Stdout = stdout
	devnull.Close()
	if err != nil {
		return err
	}
	if err := followLogFrom(root, id, st.LogPath, offset); err != nil {
		return err
	}
	if st, err = container.Load(root, id); err == nil && st.ExitCode != nil {
		return exitStatus(*st.ExitCode)
	}
	return nil
}
