package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// compatStale is the age past which a probe directory is left over: the
// overlay driver's probe (go.podman.io/storage's supportsOverlay, once
// per store, before its result is cached) takes milliseconds.
const compatStale = time.Minute

// sweepCompat removes what a urun-image killed during the overlay
// driver's first probe of a store left: GRAPHROOT/overlay/compatNNN with
// the kernel's overlay work directory inside, mode 000, which the
// library never removes and which stops even `rm -rf` of the data
// directory (TestChaosKills found one). The work directory belongs to
// the user (it was made as the namespace's root), so it can be opened
// up and removed.
func sweepCompat(graphRoot string) {
	dir := filepath.Join(graphRoot, "overlay")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "compat") {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < compatStale {
			continue
		}
		p := filepath.Join(dir, e.Name())
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				os.Chmod(path, 0o700) // before WalkDir reads it
			}
			return nil
		})
		os.RemoveAll(p)
	}
}
