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
		return &command{
			name:  "system",
			short: "Check the layer store",
			usage: "system check [--repair]\n\ncheck runs go.podman.io/storage's consistency check on urun's layer store\n(every layer's content against its recorded digest and size), prints one\nline per problem and exits 1 when there is any.",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 || args[0] != "check" {
					return argsError("system", "the subcommand check")
				}
				return systemCheck(*repair)
			},
		}
	})
}

// systemCheck runs containers/storage's Check (and Repair) on the layer
// store, in urun-image, in a user namespace with the store's mapping.
func systemCheck(repair bool) error {
	data, err := dataDir()
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
