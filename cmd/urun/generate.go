package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
)

func init() {
	register("generate", func() *command {
		fs := pflag.NewFlagSet("generate", pflag.ContinueOnError)
		timeout := fs.UintP("time", "t", 10, "seconds the unit's stop waits after SIGTERM before SIGKILL")
		files := fs.Bool("files", false, "write the unit to NAME.service in the current directory instead of printing it")
		return &command{
			name:  "generate",
			short: "Generate a systemd user unit for a container: 'generate systemd NAME'",
			usage: "generate systemd [-t SECONDS] [--files] CONTAINER",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 2 || args[0] != "systemd" {
					return argsError("generate", "systemd and one container")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("finding urun's own executable: %w", err)
				}
				name, unit, err := engine.SystemdUnit(root, args[1], exe, *timeout)
				if err != nil {
					return err
				}
				if !*files {
					fmt.Print(unit)
					return nil
				}
				p, err := filepath.Abs(name)
				if err != nil {
					return err
				}
				if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
					return fmt.Errorf("writing the unit: %w", err)
				}
				fmt.Println(p)
				return nil
			},
		}
	})
}
