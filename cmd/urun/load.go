package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("load", func() *command {
		fs := pflag.NewFlagSet("load", pflag.ContinueOnError)
		input := fs.StringP("input", "i", "", "the archive to read (docker-archive or oci-archive, uncompressed tar)")
		quiet := fs.BoolP("quiet", "q", false, "print no progress")
		return &command{
			name:  "load",
			short: "Load an image from an archive into the local store",
			usage: "load -i FILE [NAME]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if *input == "" || len(args) > 1 {
					return argsError("load", "-i FILE and at most one NAME")
				}
				if err := checkOwners(nil); err != nil {
					return err
				}
				full, err := imageHelper(append(append([]string{"load"}, pullFlags(true, *quiet)...), append([]string{*input}, args...)...)...)
				if err != nil {
					return err
				}
				if s, err := openStore(); err == nil {
					if img, err := s.Lookup(full); err == nil {
						engine.UnpackAtPull(s, img, *quiet)
					}
				}
				fmt.Println("Loaded image:", full)
				return nil
			},
		}
	})
}
