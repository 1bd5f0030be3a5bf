package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version and commit are set at build time with -ldflags -X.
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func init() {
	register("version", func() *command {
		return &command{
			name:  "version",
			short: "Show urun's version, git commit, Go version and build tags",
			usage: "version",
			flags: pflag.NewFlagSet("version", pflag.ContinueOnError),
			run: func(g *globals, args []string) error {
				if len(args) != 0 {
					return argsError("version", "no arguments")
				}
				tags := ""
				if bi, ok := debug.ReadBuildInfo(); ok {
					for _, s := range bi.Settings {
						if s.Key == "-tags" {
							tags = s.Value
						}
					}
				}
				fmt.Printf("urun version %s\ncommit: %s\ngo: %s\nbuild tags: %s\n", version, commit, runtime.Version(), tags)
				return nil
			},
		}
	})
}
