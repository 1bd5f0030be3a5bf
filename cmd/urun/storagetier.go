package main

import (
	"fmt"
	"os"

	"github.com/urun-dev/urun/container"
	fuseoverlay "github.com/urun-dev/urun/fuse-overlay"
)

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
