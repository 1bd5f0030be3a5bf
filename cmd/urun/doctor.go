package main

import (
	"encoding/json"
	"os"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/hostcheck"
)

func init() {
	register("doctor", func() *command {
		fs := pflag.NewFlagSet("doctor", pflag.ContinueOnError)
		format := fs.String("format", "text", "output format: text (one line per check) or json")
		return &command{
			name:  "doctor",
			short: "Check what this host lets you run, why not, and how to fix it",
			usage: "doctor [--format json]\n\nExit status: 0 full function, 1 runs containers with something missing, 2 cannot run containers.",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 0 {
					return argsError("doctor", "no arguments")
				}
				if err := checkFormat(*format); err != nil {
					return err
				}
				f := gatherFacts()
				r := hostcheck.Diagnose(f)
				if *format == "json" {
					enc := json.NewEncoder(os.Stdout)
					enc.SetIndent("", "  ")
					if err := enc.Encode(r); err != nil {
						return err
					}
				} else {
					hostcheck.WriteChecks(os.Stdout, r)
				}
				return exitStatus(r.Exit)
			},
		}
	})
}
