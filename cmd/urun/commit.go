package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("commit", func() *command {
		fs := pflag.NewFlagSet("commit", pflag.ContinueOnError)
		author := fs.StringP("author", "a", "", "the new image's author (its config and history entry)")
		message := fs.StringP("message", "m", "", "the history entry's comment")
		changes := fs.StringArrayP("change", "c", nil, "a Dockerfile instruction for the new image's config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR (repeatable)")
		pause := fs.BoolP("pause", "p", true, "freeze a running container while its layer is read (needs a cgroup of its own; otherwise read while it runs, as podman's default)")
		quiet := fs.BoolP("quiet", "q", false, "print only the image id (urun prints nothing else anyway)")
		format := fs.StringP("format", "f", "oci", "the manifest's format: oci or docker")
		return &command{
			name:  "commit",
			short: "Make a container's changes (its writable layer) a new image",
			usage: "commit [-a AUTHOR] [-m MESSAGE] [-c INSTRUCTION]... [-p=false] [--format oci|docker] CONTAINER [REPO[:TAG]]",
			flags: fs,
			run: func(g *globals, args []string) error {
				_ = *quiet
				if len(args) < 1 || len(args) > 2 {
					return argsError("commit", "CONTAINER and optionally the new image's REPO[:TAG]")
				}
				name := ""
				if len(args) == 2 {
					name = args[1]
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				res, err := engine.Commit(root, args[0], engine.CommitOptions{
					Name: name, Author: *author, Message: *message, Changes: *changes,
					Pause: *pause, PauseAsked: fs.Changed("pause") && *pause, Format: *format,
				})
				if err != nil {
					return err
				}
				fmt.Println(res.ID)
				return nil
			},
		}
	})
}
