package main

import (
	"github.com/spf13/pflag"
)

func init() {
	register("tag", func() *command {
		fs := pflag.NewFlagSet("tag", pflag.ContinueOnError)
		return &command{
			name:  "tag",
			short: "Give a local image another name",
			usage: "tag IMAGE NAME [NAME...]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) < 2 {
					return argsError("tag", "an IMAGE and at least one new NAME")
				}
				s, err := openStore()
				if err != nil {
					return err
				}
				for _, n := range args[1:] {
					if err := s.Tag(args[0], n); err != nil {
						return err
					}
				}
				return nil
			},
		}
	})
}
