package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/userns"
)

func init() {
	register("system", func() *command {
		fs := pflag.NewFlagSet("system", pflag.ContinueOnError)
		repair := fs.Bool("repair", false, "with check: repair what the check finds (containers/storage's Repair: damaged layers and images are removed)")
		verbose := fs.BoolP("verbose", "v", false, "with df: one line per image (with its shared and unique size), container and volume")
		format := fs.String("format", "", "with df: json")
		all := fs.BoolP("all", "a", false, "with prune: every image no container uses, not only dangling ones")
		force := fs.BoolP("force", "f", false, "with prune: do not ask")
		volumes := fs.Bool("volumes", false, "with prune: every volume no container uses too")
		return &command{
			name:  "system",
			short: "Show disk use, prune what is unused, check the layer store",
			usage: "system df [-v] [--format json] | system prune [-a] [-f] [--volumes] | system check [--repair]\n\n" +
				"prune removes stopped containers, with --volumes every volume no container\n" +
				"uses, and with -a every image no container uses; it asks first unless -f.\n" +
				"df shows what images, containers and local volumes take on disk, as docker\n" +
				"and podman show it; -v adds each image's size shared with other images and\n" +
				"its own (unique), as podman's system df -v.\n" +
				"check runs go.podman.io/storage's consistency check on urun's layer store\n(every layer's content against its recorded digest and size), prints one\nline per problem and exits 1 when there is any.",
			flags: fs,
			run: func(g *globals, args []string) error {
				switch {
				case len(args) == 1 && args[0] == "check":
					return systemCheck(*repair)
				case len(args) == 1 && args[0] == "df":
					return systemDF(g, *verbose, *format)
				case len(args) == 1 && args[0] == "prune":
					return systemPrune(g, *all, *force, *volumes)
				}
				return argsError("system", "a subcommand: df, prune or check")
			},
		}
	})
}

// systemCheck runs containers/storage's Check (and Repair) on the layer
// store, in urun-image, in a user namespace with the store's mapping.
func systemCheck(repair bool) error {
	data, err := engine.DataDir()
	if err != nil {
		return err
	}
	if _, err := os.Stat(store.LayerStoreDir(data)); errors.Is(err, os.ErrNotExist) {
		fmt.Println("layer store: empty")
		return nil
	}
	maps, err := userns.ResolveMaps(idmap.ModeAuto, false)
	if err != nil {
		return err
	}
	if !engine.LayerStoreMaps(maps) {
		return errors.New("checking the layer store needs your subordinate ids (the mapping its files were stored with): see 'urun doctor'")
	}
	reply, err := engine.CallLayerStore(data, maps, podmanstore.Request{Op: podmanstore.OpCheck, Repair: repair})
	if err != nil {
		return err
	}
	for _, p := range reply.Problems {
		fmt.Println(p)
	}
	if len(reply.Problems) > 0 && !repair {
		return exitStatus(1)
	}
	if len(reply.Problems) > 0 {
		fmt.Printf("layer store %s: %d problems repaired\n", reply.GraphRoot, len(reply.Problems))
		return nil
	}
	fmt.Printf("layer store %s: ok\n", reply.GraphRoot)
	return nil
}
