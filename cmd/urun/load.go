package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("load", func() *command {
		fs := pflag.NewFlagSet("load", pflag.ContinueOnError)
		input := fs.StringP("input", "i", "", "the archive to read (docker-archive or oci-archive, uncompressed tar; default: stdin)")
		quiet := fs.BoolP("quiet", "q", false, "print no progress")
		return &command{
			name:  "load",
			short: "Load an image from an archive (a file or stdin) into the local store",
			usage: "load [-i FILE] [NAME]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) > 1 {
					return argsError("load", "at most one NAME")
				}
				if err := checkOwners(nil); err != nil {
					return err
				}
				file := *input
				if file == "" {
					// As podman's: stdin, unless it is a terminal.
					if term.IsTerminal(int(os.Stdin.Fd())) {
						return errors.New("load: no archive: give -i FILE or redirect stdin from one")
					}
					f, remove, err := engine.TempArchive("load")
					if err != nil {
						return err
					}
					defer remove()
					if err := engine.CopyArchive(f, os.Stdin, "load: reading stdin"); err != nil {
						return err
					}
					if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
						return errors.New("load: stdin is empty: give -i FILE or redirect stdin from an archive")
					}
					file = f.Name()
				}
				full, err := imageHelper(append(append([]string{"load"}, pullFlags(true, *quiet)...), append([]string{file}, args...)...)...)
				if err != nil {
					return err
				}
				if s, err := openStore(); err == nil {
					if img, err := s.Lookup(full); err == nil {
						engine.UnpackAtPull(s, img, *quiet, g.debug)
					}
				}
				fmt.Println("Loaded image:", full)
				return nil
			},
		}
	})
}
