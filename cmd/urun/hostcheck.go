package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/hostcheck"
	"github.com/urun-dev/urun/netns"
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
	if d, err := dataDir(); errors.As(err, &ro) {
		o.DataError, o.DataFix = ro.Cause(), engine.ReadOnlyDataFix
	} else if err != nil {
		o.DataError = err.Error()
	} else {
		o.Data = d
	}
	return hostcheck.Gather(o)
}

func checkFormat(format string) error {
	if format != "text" && format != "json" {
		return usageError(fmt.Errorf("unknown --format %q (want text or json)", format), "urun --help")
	}
	return nil
}
