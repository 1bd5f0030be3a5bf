package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/docker/go-units"
	"github.com/spf13/pflag"
)

func init() {
	register("images", func() *command {
		fs := pflag.NewFlagSet("images", pflag.ContinueOnError)
		format := fs.String("format", "table", "output format: table or json")
		return &command{
			name:  "images",
			short: "List the images in the local store",
			usage: "images [flags]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 0 {
					return argsError("images", "no arguments")
				}
				s, err := openStore()
				if err != nil {
					return err
				}
				list, err := s.List()
				if err != nil {
					return err
				}
				switch *format {
				case "json":
					enc := json.NewEncoder(os.Stdout)
					enc.SetIndent("", "  ")
					if list == nil {
						fmt.Println("[]")
						return nil
					}
					return enc.Encode(list)
				case "table":
					w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
					fmt.Fprintln(w, "NAME\tID\tCREATED\tSIZE")
					for _, e := range list {
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Name, e.ID, e.Created, units.HumanSize(float64(e.Size)))
					}
					return w.Flush()
				}
				return fmt.Errorf("--format %q: use table or json", *format)
			},
		}
	})
}
