package main

import (
	"fmt"
	"os"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
	fuseoverlay "github.com/urun-dev/urun/fuse-overlay"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/userns"
)

// checkOwners refuses, before anything is written, a command that would
// unpack an image with maps (nil: the default mapping, as pull and load
// unpack into the layer store) into a data directory that cannot store
// the owners (store.CheckOwners: the same recorded answer doctor gives).
func checkOwners(maps *userns.Maps) error {
	data, err := engine.DataDir()
	if err != nil {
		return err
	}
	if maps == nil {
		m, err := userns.ResolveMaps(idmap.ModeAuto, false)
		if err != nil {
			return nil // the run says why; a pull needs no mapping
		}
		maps = &m
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding urun's own executable: %w", err)
	}
	return store.CheckOwners(data, *maps, exe)
}

// useStorageProbe starts an auto-tier container at the tier the storage
// probe recorded (urun doctor and info make the record; see
// fuseoverlay.TierRecord), and records the tier the container mounted
// when it differs, so run, info and doctor give one answer.
func useStorageProbe(g *globals, data string, cfg *container.RunConfig) {
	if cfg.Rootfs.Tier != fuseoverlay.Auto {
		return
	}
	key := fuseoverlay.TierKey(data, cfg.Rootfs.FuseBin, "")
	rec, hit := fuseoverlay.LoadTier(data, key)
	if hit {
		cfg.Rootfs.Start = rec.Tier
	}
	cfg.RootfsMounted = func(m fuseoverlay.Mounted) {
		line, err := fuseoverlay.Remember(data, key, rec, hit, m)
		if g.debug {
			fmt.Fprintln(os.Stderr, "urun:", line)
		}
		if err != nil && g.debug {
			fmt.Fprintln(os.Stderr, "urun: recording the storage tier:", err)
		}
	}
}
