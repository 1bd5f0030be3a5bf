package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/hostcheck"
	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/netns"
	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/userns"
)

// gatherFacts runs hostcheck's probes with what the rest of urun would
// use: the same directories, urun-init and --network default.
func gatherFacts() hostcheck.Facts {
	def := netns.Default(false) // a run without -p
	o := hostcheck.Options{
		Urun: version, Commit: commit,
		NetworkDefault: string(def.Driver),
		NetworkWhy:     def.Reason,
	}
	o.Executable, _ = os.Executable()
	if p, err := findInit(); err != nil {
		o.InitError = err.Error()
	} else {
		o.Init = p
	}
	if d, err := engine.RuntimeDir(); err != nil {
		o.StateError = err.Error()
	} else {
		o.State = d
	}
	var ro *engine.ReadOnlyDataError
	if d, err := engine.DataDir(); errors.As(err, &ro) {
		o.DataError, o.DataFix = ro.Cause(), engine.ReadOnlyDataFix
	} else if err != nil {
		o.DataError = err.Error()
	} else {
		o.Data = d
		// The ownership probe run and pull use, asked again and recorded.
		if maps, err := userns.ResolveMaps(idmap.ModeAuto, false); err == nil && o.Executable != "" {
			var oe *store.OwnersError
			// A probe that cannot run (no user namespace) is the userns
			// and newuidmap lines' to explain, not storage's.
			if err := store.ProbeOwners(d, maps, o.Executable, "urun doctor/info"); errors.As(err, &oe) {
				o.Owners, o.OwnersFix = oe.Cause(), store.OwnersFix
			}
		}
	}
	return hostcheck.Gather(o)
}

func checkFormat(format string) error {
	if format != "text" && format != "json" {
		return usageError(fmt.Errorf("unknown --format %q (want text or json)", format), "urun --help")
	}
	return nil
}
