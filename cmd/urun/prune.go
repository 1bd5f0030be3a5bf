package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/store"
)

// The prunes, as podman 4.3.1's: without -f each asks on stdin (no
// answer, EOF, is an error; anything but y/yes does nothing); container
// prune and image prune print the ids they remove, system prune its
// sections and the space freed.

func init() {
	register("image", func() *command {
		fs := pflag.NewFlagSet("image", pflag.ContinueOnError)
		all := fs.BoolP("all", "a", false, "every image no container uses, not only dangling ones")
		force := fs.BoolP("force", "f", false, "do not ask")
		return &command{
			name:  "image",
			short: "Manage images: 'image prune' removes unused ones (ls, rm, inspect, pull… are the top-level commands)",
			usage: "image prune [-a] [-f]\n\nWithout -a: the unnamed images (commit without a name) no container uses,\nand the unpacked trees of images whose name moved on and that no container\nuses.",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 || args[0] != "prune" {
					return argsError("image", "the subcommand prune (or: urun images, rmi, inspect, pull)")
				}
				warning := "WARNING! This command removes all dangling images."
				if *all {
					warning = "WARNING! This command removes all images without at least one container associated with them."
				}
				if ok, err := confirmPrune(*force, warning); !ok || err != nil {
					return err
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				gone, err := pruneImages(root, *all)
				for _, d := range gone {
					fmt.Println(d.Encoded())
				}
				return err
			},
		}
	})
}

// confirmPrune asks, unless force, as podman's prunes do.
func confirmPrune(force bool, warning string) (bool, error) {
	if force {
		return true, nil
	}
	fmt.Printf("%s\nAre you sure you want to continue? [y/N] ", warning)
	answer, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if errors.Is(err, io.EOF) && answer == "" {
		fmt.Println()
		return false, errors.New("no answer on stdin: give -f to prune without asking")
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes", nil
}

// pruneImages removes, with all, every image no container uses (each
// of its names); without, the unnamed ones (commit without a name) no
// container uses, and what rmi leaves for later: trees of images no
// name refers to, which a removal's Unlisted hook sweeps.
func pruneImages(root string, all bool) ([]store.Digest, error) {
	s, err := openStore()
	if err != nil {
		return nil, err
	}
	data, err := engine.DataDir()
	if err != nil {
		return nil, err
	}
	entries, err := s.List()
	if err != nil {
		return nil, err
	}
	var gone []store.Digest
	for _, e := range entries {
		if !all && !e.Dangling() {
			continue
		}
		users, err := engine.ImageUsers(root, data, e.Digest)
		if err != nil {
			return gone, err
		}
		if len(users) > 0 {
			continue
		}
		d, err := removeImage(s, root, data, e.Ref(), false)
		gone = append(gone, d...)
		if err != nil {
			return gone, err
		}
	}
	return gone, nil
}

// systemPrune is podman's system prune: stopped containers, then (with
// --volumes) every volume no container uses, then the images prune
// removes (-a: every unused one).
func systemPrune(g *globals, all, force, volumes bool) error {
	warning := "WARNING! This command removes:\n\t- all stopped containers\n"
	if volumes {
		warning += "\t- all volumes not used by at least one container\n"
	}
	if all {
		warning += "\t- all images without at least one container associated with them\n"
	} else {
		warning += "\t- all dangling images\n"
	}
	if ok, err := confirmPrune(force, warning); !ok || err != nil {
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
	before := diskTotal(root, data)
	section := func(title string, lines []string) {
		if len(lines) > 0 {
			fmt.Println(title)
			fmt.Println(strings.Join(lines, "\n"))
		}
	}
	ids, err := engine.Prune(root)
	section("Deleted Containers", ids)
	if err != nil {
		return err
	}
	if volumes {
		list, err := listVolumes()
		if err != nil {
			return err
		}
		var names []string
		for _, v := range list {
			if len(volumeUsers(root, v)) > 0 {
				continue
			}
			if err = removeVolume(v); err != nil {
				break
			}
			names = append(names, v.Name)
		}
		section("Deleted Volumes", names)
		if err != nil {
			return err
		}
	}
	gone, err := pruneImages(root, all)
	var imgs []string
	for _, d := range gone {
		imgs = append(imgs, d.Encoded())
	}
	section("Deleted Images", imgs)
	if err != nil {
		return err
	}
	freed := before - diskTotal(root, data)
	fmt.Println("Total reclaimed space:", units.HumanSize(float64(max(freed, 0))))
	return nil
}

// diskTotal is what images, containers and volumes take, as system df
// counts it.
func diskTotal(root, data string) int64 {
	var n int64
	if u, err := engine.DiskUsage(root, data); err == nil {
		n += u.ImagesSize + u.ContainersSize
	}
	if vols, err := listVolumes(); err == nil {
		for _, v := range vols {
			n += store.TreeSize(v.Mountpoint)
		}
	}
	return n
}
