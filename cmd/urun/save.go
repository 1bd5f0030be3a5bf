package main

import (
	"errors"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("save", func() *command {
		fs := pflag.NewFlagSet("save", pflag.ContinueOnError)
		output := fs.StringP("output", "o", "", "the archive to write (default: stdout, which must not be a terminal)")
		format := fs.String("format", "docker-archive", "archive format: docker-archive or oci-archive")
		quiet := fs.BoolP("quiet", "q", false, "print no progress")
		return &command{
			name:  "save",
			short: "Write a local image to an archive (a file or stdout)",
			usage: "save [-o FILE] [--format docker-archive|oci-archive] IMAGE",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("save", "one IMAGE")
				}
				if *format != "docker-archive" && *format != "oci-archive" {
					return errors.New("save --format " + *format + ": use docker-archive or oci-archive")
				}
				helper := func(file string) error {
					_, err := imageHelper(append(append([]string{"save", "--format", *format}, pullFlags(true, *quiet)...), file, args[0])...)
					return err
				}
				if *output != "" {
					return helper(*output)
				}
				// As podman's: an archive is not for a terminal.
				if term.IsTerminal(int(os.Stdout.Fd())) {
					return errors.New("save: refusing to write an archive to a terminal: use -o FILE or redirect stdout")
				}
				f, remove, err := engine.TempArchive("save")
				if err != nil {
					return err
				}
				defer remove()
				if err := helper(f.Name()); err != nil {
					return err
				}
				saved, err := os.Open(f.Name())
				if err != nil {
					return err
				}
				defer saved.Close()
				return engine.CopyArchive(os.Stdout, saved, "save: writing to stdout")
			},
		}
	})
}
