package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/userns"
)

func init() {
	register("rmi", func() *command {
		fs := pflag.NewFlagSet("rmi", pflag.ContinueOnError)
		return &command{
			name:  "rmi",
			short: "Remove local images",
			usage: "rmi IMAGE [IMAGE...]\n\nIMAGE: a name, or 12 or more hex digits of an id (removes all its names)",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("rmi", "at least one IMAGE")
				}
				s, err := openStore()
				if err != nil {
					return err
				}
				for _, a := range args {
					gone, err := s.Remove(a)
					if err != nil {
						return err
					}
					for _, d := range gone {
						if err := removeRootfs(d); err != nil {
							fmt.Fprintf(os.Stderr, "urun: warning: %s: the image is removed but its unpacked files are not\n", err)
						}
						fmt.Println("Deleted:", d.Encoded())
					}
					if len(gone) == 0 {
						fmt.Println("Untagged:", a)
					}
				}
				return nil
			},
		}
	})
}

// removeRootfs deletes an image's unpacked root filesystems; their files
// belong to subordinate ids, so this runs in a mapped user namespace.
func removeRootfs(d store.Digest) error {
	data, err := dataDir()
	if err != nil {
		return err
	}
	mode, _ := idmap.ParseMode("")
	maps, err := userns.ResolveMaps(mode, false)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return store.RemoveRootfs(d, maps, data, exe)
}
