package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/userns"
)

func init() {
	register("rmi", func() *command {
		fs := pflag.NewFlagSet("rmi", pflag.ContinueOnError)
		force := fs.BoolP("force", "f", false, "remove the containers that use the image first (running ones are killed), as podman rmi -f")
		all := fs.BoolP("all", "a", false, "remove every local image (as podman rmi -a; those containers use stay without -f)")
		return &command{
			name:  "rmi",
			short: "Remove local images",
			usage: "rmi [-f] IMAGE [IMAGE...]\n       urun rmi -a [-f]\n\nIMAGE: a name, or 12 or more hex digits of an id (removes all its names)\n\nAn image that containers use (in any state) is not removed: 'urun rm' them\nfirst, or give -f to remove them with the image.",
			flags: fs,
			run: func(g *globals, args []string) error {
				if *all && len(args) > 0 {
					return fmt.Errorf("rmi: give IMAGE names or --all, not both")
				}
				if len(args) == 0 && !*all {
					return argsError("rmi", "at least one IMAGE, or --all")
				}
				s, err := openStore()
				if err != nil {
					return err
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				data, err := engine.DataDir()
				if err != nil {
					return err
				}
				if *all {
					return removeAllImages(s, root, data, *force)
				}
				for _, a := range args {
					gone, err := removeImage(s, root, data, a, *force)
					if err != nil {
						return err
					}
					for _, d := range gone {
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

// freeImage refuses when containers use the image d, or with force
// removes them (killing running ones), as podman rmi does. It runs while
// rmi holds the image's pin, so no new container of it can register.
func freeImage(root, data, name string, d store.Digest, force bool) error {
	users, err := engine.ImageUsers(root, data, d)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return nil
	}
	if !force {
		return engine.InUseError(name, users)
	}
	for _, u := range users {
		if err := engine.Remove(root, u.ID, true); err != nil && !errors.Is(err, errNoSuchContainer) {
			return fmt.Errorf("removing container %s that uses image %s: %w", u.ID[:12], name, err)
		}
		fmt.Println("Removed container:", u.ID)
	}
	return nil
}

// removeRootfs deletes an image's unpacked root filesystems and its
// layers in the layer store that no other image uses; their files
// belong to subordinate ids, so this runs in a mapped user namespace.
func removeRootfs(root string, d store.Digest) error {
	data, err := engine.DataDir()
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
	var layersErr error
	if engine.LayerStoreMaps(maps) {
		layersErr = engine.ForgetLayers(root, data, d, maps)
	}
	return errors.Join(store.RemoveRootfs(d, maps, data, exe), layersErr)
}

// removeImage removes the image called a (rmi, image prune), with its
// unpacked trees; force removes the containers that use it first.
func removeImage(s *store.Store, root, data, a string, force bool) ([]store.Digest, error) {
	return s.RemoveWith(a, store.RemoveHooks{
		InUse: func(d store.Digest) error { return freeImage(root, data, a, d, force) },
		Gone: func(d store.Digest) error {
			if err := removeRootfs(root, d); err != nil {
				fmt.Fprintf(os.Stderr, "urun: warning: %s: the image is removed but its unpacked files are not\n", err)
			}
			return nil
		},
		// Trees of images whose name moved on (pull, tag,
		// load of a newer one) go once no container uses them.
		Unlisted: func(d store.Digest) error {
			if users, err := engine.ImageUsers(root, data, d); err != nil || len(users) > 0 {
				return err
			}
			if err := removeRootfs(root, d); err != nil {
				fmt.Fprintf(os.Stderr, "urun: warning: %s: unpacked files of an image no name refers to are left\n", err)
			}
			return nil
		},
	})
}

// removeAllImages is rmi --all: every image, each once whatever its
// names. Without force an image containers use stays (freeImage's
// refusal), as with podman rmi -a: the others go, and the error names
// what stayed.
func removeAllImages(s *store.Store, root, data string, force bool) error {
	entries, err := s.List()
	if err != nil {
		return err
	}
	seen := map[store.Digest]bool{}
	var inUse []error
	for _, e := range entries {
		if seen[e.Digest] {
			continue
		}
		seen[e.Digest] = true
		gone, err := removeImage(s, root, data, e.ID, force)
		if errors.Is(err, engine.ErrImageInUse) {
			inUse = append(inUse, err)
			continue
		}
		if err != nil {
			return err
		}
		for _, d := range gone {
			fmt.Println("Deleted:", d.Encoded())
		}
	}
	return errors.Join(inUse...)
}
