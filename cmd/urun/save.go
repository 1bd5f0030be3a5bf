package main

import (
	"github.com/spf13/pflag"
)

func init() {
	register("save", func() *command {
		fs := pflag.NewFlagSet("save", pflag.ContinueOnError)
		output := fs.StringP("output", "o", "", "the archive to write")
		format := fs.String("format", "docker-archive", "archive format: docker-archive or oci-archive")
		quiet := fs.BoolP("quiet", "q", false, "print no progress")
		return &command{
			name:  "save",
			short: "Write a local image to an archive",
			usage: "save -o FILE [--format docker-archive|oci-archive] IMAGE",
			flags: fs,
			run: func(g *globals, args []string) error {
				if *output == "" || len(args) != 1 {
					return argsError("save", "-o FILE and one IMAGE")
				}
				_, err := imageHelper(append(append([]string{"save", "--format", *format}, pullFlags(true, *quiet)...), *output, args[0])...)
				return err
			},
		}
	})
}
