package main

import (
	"encoding/json"
	"os"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/hostcheck"
)

func init() {
	register("info", func() *command {
		fs := pflag.NewFlagSet("info", pflag.ContinueOnError)
		format := fs.String("format", "text", "output format: text or json (schema: hostcheck/info.schema.json)")
		return &command{
			name:  "info",
			short: "Show versions, id mapping, helpers, storage, cgroups and network of this host",
			usage: "info [--format json]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 0 {
					return argsError("info", "no arguments")
				}
				if err := checkFormat(*format); err != nil {
					return err
				}
				f := gatherFacts()
				if *format == "json" {
					enc := json.NewEncoder(os.Stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(f)
				}
				hostcheck.WriteInfo(os.Stdout, f)
				return nil
			},
		}
	})
}
