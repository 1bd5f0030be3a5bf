package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("diff", func() *command {
		fs := pflag.NewFlagSet("diff", pflag.ContinueOnError)
		format := fs.String("format", "", "json: {\"changed\": [...], \"added\": [...], \"deleted\": [...]}, as podman's")
		return &command{
			name:  "diff",
			short: "List the files a container added (A), changed (C) or deleted (D)",
			usage: "diff [--format json] CONTAINER",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("diff", "one CONTAINER")
				}
				if *format != "" && *format != "json" {
					return fmt.Errorf("diff --format %q: use json (or no --format for A/C/D lines)", *format)
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				changes, err := engine.Changes(root, args[0])
				if err != nil {
					return err
				}
				if *format == "json" {
					out := map[string][]string{}
					key := map[byte]string{'A': "added", 'C': "changed", 'D': "deleted"}
					for _, c := range changes {
						out[key[c.Kind]] = append(out[key[c.Kind]], c.Path)
					}
					b, _ := json.MarshalIndent(out, "", "     ")
					fmt.Println(string(b))
					return nil
				}
				for _, c := range changes {
					fmt.Printf("%c %s\n", c.Kind, c.Path)
				}
				return nil
			},
		}
	})
	register("export", func() *command {
		fs := pflag.NewFlagSet("export", pflag.ContinueOnError)
		output := fs.StringP("output", "o", "", "the tar file to write (default: stdout, which must not be a terminal)")
		return &command{
			name:  "export",
			short: "Write a container's filesystem as a tar archive",
			usage: "export [-o FILE] CONTAINER",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("export", "one CONTAINER")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				if _, err := engine.Resolve(root, args[0]); err != nil {
					return err
				}
				var w io.Writer = os.Stdout
				if *output == "" && term.IsTerminal(int(os.Stdout.Fd())) {
					return errors.New("export: refusing to write a tar to a terminal: use -o FILE or redirect stdout")
				}
				if *output != "" {
					f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
					if err != nil {
						return fmt.Errorf("export: %w", err)
					}
					defer f.Close()
					if err := engine.Export(root, args[0], f); err != nil {
						f.Close()
						os.Remove(*output)
						return err
					}
					return f.Close()
				}
				return engine.Export(root, args[0], w)
			},
		}
	})
}
